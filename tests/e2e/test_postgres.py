"""The whole platform on PostgreSQL: a send to every network is delivered and reported."""

from __future__ import annotations

import uuid
from pathlib import Path

from duanxin.config import Settings
from duanxin.demo import demo_stack
from duanxin.runtime import free_port
from tests.conftest import Stack


async def test_send_and_reports_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(database_url=postgres_url, host="127.0.0.1", port=port)
    async with demo_stack("127.0.0.1", port, tmp_path, report_delay=0.05, settings=settings) as (
        facts,
        running,
        simulators,
    ):
        stack = Stack(facts, running, simulators)
        async with stack.client() as client:
            sent = await client.send(["13800138000", "18600000000", "18900000000"], "验证码 8848")
            assert sent.status == 0
            assert [item.result for item in sent.items] == [0, 0, 0]
            stats: dict[str, str] = {}

            async def reported() -> bool:
                stats.update({r.mid: r.stat for r in await client.reports()})
                return len(stats) == 3

            await stack.wait_for(reported)
            assert set(stats.values()) == {"DELIVRD"}
            assert (await client.balance()).balance == -3


async def test_cluster_settings_postgres_and_redis_streams(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Cluster mode's backends (PostgreSQL state, Redis work stream) run the same flow."""
    port = free_port()
    settings = Settings(
        database_url=postgres_url,
        bus_url=redis_url,
        redis_prefix=f"duanxin-test:{uuid.uuid4().hex[:12]}:{tmp_path.name}:",
        host="127.0.0.1",
        port=port,
    )
    async with demo_stack("127.0.0.1", port, tmp_path, report_delay=0.05, settings=settings) as (
        facts,
        running,
        simulators,
    ):
        stack = Stack(facts, running, simulators)
        async with stack.client() as client:
            numbers = [f"138{i:08d}" for i in range(20)]
            sent = await client.send(numbers, "验证码 8848")
            assert sent.status == 0
            mids = {item.mid for item in sent.items}
            seen: set[str] = set()

            async def reported() -> bool:
                seen.update(r.mid for r in await client.reports())
                return seen == mids

            await stack.wait_for(reported)
        received = [m.destination for m in simulators["cmpp"].behaviour.received]
        assert sorted(received) == sorted(numbers)
    await _drop_keys(redis_url, settings.redis_prefix)


async def _drop_keys(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()


async def test_push_and_statistics_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    """Reports pushed to a callback, and the statistics counters, on PostgreSQL."""
    from duanxin.client import verify_webhook
    from duanxin.service.stats import statistics
    from tests.delivery.receivers import receiver

    port = free_port()
    settings = Settings(
        database_url=postgres_url, host="127.0.0.1", port=port,
        push_allowed_networks=["127.0.0.0/8"],
    )  # fmt: skip
    async with (
        receiver() as hook,
        demo_stack("127.0.0.1", port, tmp_path, report_delay=0.05, settings=settings) as (
            facts,
            running,
            simulators,
        ),
    ):
        stack = Stack(facts, running, simulators)
        async with stack.client() as client:
            made = await client.set_callbacks(reports_url=hook.url)
            assert made.ok and made.secret
            numbers = [f"138{i:08d}" for i in range(150)]
            sent = await client.send(numbers, "验证码 8848")
            mids = {item.mid for item in sent.items}

            async def pushed() -> bool:
                return {m for r in hook.delivered() for m in (i["mid"] for i in r.items)} == mids

            await stack.wait_for(pushed, timeout=60)
            for request in hook.delivered():
                verify_webhook(request.headers, request.body, made.secret)
            assert len(await client.reports()) == 0
        (line,) = await statistics(running.platform)
        assert (line.submitted, line.delivered, line.pending) == (150, 150, 0)
