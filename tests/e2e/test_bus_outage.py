"""The cluster bus (Redis) going away does not refuse sends (issue 7, section 3).

A send whose messages are committed to the database is accepted (status 0) while Redis is
down; ``/readyz`` says why the process is not ready; once Redis answers again — a fresh,
empty server, so nothing of the stream survived — the sweeper publishes what the store
holds and every message is delivered and reported once.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from duanxin.config import Settings
from duanxin.demo import demo_stack
from duanxin.runtime import free_port
from tests.conftest import TEST_REPORT_DELAY, RedisServer, Stack


async def test_sends_are_accepted_while_redis_is_down_and_delivered_when_it_is_back(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    port = free_port()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'duanxin.db'}",
        bus_url=redis_server.url,
        host="127.0.0.1",
        port=port,
        sweep_interval_seconds=0.2,
    )
    async with demo_stack(
        "127.0.0.1", port, tmp_path, report_delay=TEST_REPORT_DELAY, settings=settings
    ) as (facts, running, simulators):
        stack = Stack(facts, running, simulators)
        received = simulators["cmpp"].behaviour.received
        async with stack.client() as client, httpx.AsyncClient(base_url=facts.url) as http:
            before = await client.send(["13800000001"], "您的验证码是1234")
            assert before.ok

            async def first_delivered() -> bool:
                return len(received) == 1

            await stack.wait_for(first_delivered)

            await redis_server.stop()
            numbers = [f"1380000{i:04d}" for i in range(2, 12)]
            during = [await client.send([n], "您的验证码是1234") for n in numbers[:5]]
            during.append(await client.send(numbers[5:], "您的验证码是5678"))
            assert all(r.status == 0 for r in during), during
            assert all(i.result == 0 for r in during for i in r.items)
            readiness = await http.get("/readyz")
            assert readiness.status_code == 503
            assert any(r.startswith("bus unreachable") for r in readiness.json()["reasons"])
            assert (await http.get("/healthz")).status_code == 200
            assert len(received) == 1  # nothing can be handed to delivery meanwhile

            await redis_server.start()
            mids = {i.mid for r in (before, *during) for i in r.items}
            reported: list[str] = []

            async def all_reported() -> bool:
                reported.extend(r.mid for r in await client.reports())
                return set(reported) == mids

            await stack.wait_for(all_reported)

            async def ready() -> bool:
                return (await http.get("/readyz")).status_code == 200

            await stack.wait_for(ready)
        assert sorted(reported) == sorted(mids)  # once each
        destinations = sorted(m.destination[-11:] for m in received)
        assert destinations == ["13800000001", *numbers]  # each submitted once
