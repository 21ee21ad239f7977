"""The work queue, the same tests against the in-process and the Redis Streams backends."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from redis.asyncio import Redis

from duanxin.bus import (
    Bus,
    Delivery,
    Keys,
    MemoryBus,
    RedisBus,
    open_bus,
)
from duanxin.bus.keys import STREAM_FIELD
from tests.conftest import until, wait_until

REDIS_URL = os.environ.get("DUANXIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
STREAM = "send:ch1"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Harness:
    bus: Bus
    append_raw: Callable[[str, str], Awaitable[None]]  # store a raw entry, bypassing the bus
    age: Callable[[str, str, float], Awaitable[None]]  # pending entries become older
    wait_blocked: Callable[[], Awaitable[None]]  # until a consumer is blocked in consume


def memory_harness() -> Harness:
    clock = FakeClock()
    bus = MemoryBus(time=clock)

    async def append_raw(stream: str, raw: str) -> None:
        bus._append(stream, raw)

    async def age(stream: str, group: str, seconds: float) -> None:
        clock.now += seconds

    async def wait_blocked() -> None:
        await until(lambda: any(s.waiters for s in bus._streams.values()))

    return Harness(bus, append_raw, age, wait_blocked)


async def redis_harness(admin: Redis, prefix: str) -> Harness:
    bus = RedisBus(REDIS_URL, prefix=prefix)
    keys = Keys(prefix)

    async def append_raw(stream: str, raw: str) -> None:
        await admin.xadd(keys.stream(stream), {STREAM_FIELD: raw})

    async def age(stream: str, group: str, seconds: float) -> None:
        # Set each pending entry's idle time, keeping its owner and delivery count (JUSTID).
        key = keys.stream(stream)
        for row in await admin.xpending_range(key, group, "-", "+", 10_000):
            idle = int(row["time_since_delivered"] + seconds * 1000)
            await admin.xclaim(
                key, group, row["consumer"], 0, [row["message_id"]], idle=idle, justid=True
            )

    async def wait_blocked() -> None:
        async def reading() -> bool:
            return any(c.get("cmd") == "xreadgroup" for c in await admin.client_list())

        await wait_until(reading)

    return Harness(bus, append_raw, age, wait_blocked)


async def _redis_admin() -> tuple[Redis, str]:
    admin = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await admin.ping()
    except OSError as exc:
        await admin.aclose()
        unreachable = f"Redis not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("DUANXIN_REQUIRE_SERVICES") == "1":  # CI: a missing Redis fails
            pytest.fail(unreachable)
        pytest.skip(unreachable)
    return admin, f"duanxin-test:{uuid.uuid4().hex}:"


async def _redis_cleanup(admin: Redis, prefix: str) -> None:
    keys = [k async for k in admin.scan_iter(match=Keys(prefix).pattern())]
    if keys:
        await admin.delete(*keys)
    await admin.aclose()


@pytest.fixture
async def redis_admin() -> AsyncIterator[tuple[Redis, str]]:
    admin, prefix = await _redis_admin()
    yield admin, prefix
    await _redis_cleanup(admin, prefix)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def h(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    if request.param == "memory":
        yield memory_harness()
        return
    admin, prefix = await _redis_admin()
    harness = await redis_harness(admin, prefix)
    try:
        yield harness
    finally:
        await harness.bus.close()
        await _redis_cleanup(admin, prefix)


def payloads(deliveries: list[Delivery]) -> list[dict[str, Any]]:
    return [d.payload for d in deliveries]


async def test_publish_consume_ack(h: Harness) -> None:
    sent = [{"mid": "A1", "mobile": "13800138000", "content": "验证码 1234"}, {"mid": "A2"}]
    await h.bus.publish(STREAM, sent)
    got = await h.bus.consume(STREAM, "workers", "w1", count=10, block=0)
    assert payloads(got) == sent
    assert [d.attempts for d in got] == [1, 1]
    assert len({d.id for d in got}) == 2
    await h.bus.ack(STREAM, "workers", [d.id for d in got])
    assert await h.bus.consume(STREAM, "workers", "w1", count=10, block=0) == []
    await h.age(STREAM, "workers", 3600)
    assert await h.bus.reclaim(STREAM, "workers", "w2", min_idle=0, count=10) == []


async def test_empty_publish_and_empty_ack_are_no_ops(h: Harness) -> None:
    await h.bus.publish(STREAM, [])
    await h.bus.ack(STREAM, "workers", [])
    assert await h.bus.consume(STREAM, "workers", "w1", count=10, block=0) == []


async def test_count_limits_and_order_is_kept(h: Harness) -> None:
    await h.bus.publish(STREAM, [{"n": i} for i in range(100)])
    await h.bus.publish(STREAM, [{"n": i} for i in range(100, 150)])
    seen: list[int] = []
    while batch := await h.bus.consume(STREAM, "workers", "w1", count=7, block=0):
        assert len(batch) <= 7
        seen += [d.payload["n"] for d in batch]
    assert seen == list(range(150))


async def test_consumers_of_a_group_share_the_work(h: Harness) -> None:
    await h.bus.publish(STREAM, [{"n": i} for i in range(6)])
    a = await h.bus.consume(STREAM, "workers", "a", count=3, block=0)
    b = await h.bus.consume(STREAM, "workers", "b", count=10, block=0)
    assert [d.payload["n"] for d in a + b] == list(range(6))


async def test_groups_each_get_everything(h: Harness) -> None:
    await h.bus.publish(STREAM, [{"n": 1}, {"n": 2}])
    one = await h.bus.consume(STREAM, "workers", "w", count=10, block=0)
    two = await h.bus.consume(STREAM, "audit", "w", count=1, block=0)
    await h.bus.ack(STREAM, "workers", [d.id for d in one])
    two += await h.bus.consume(STREAM, "audit", "w", count=10, block=0)
    assert payloads(one) == payloads(two) == [{"n": 1}, {"n": 2}]


async def test_streams_are_separate(h: Harness) -> None:
    await h.bus.publish("send:ch1", [{"n": 1}])
    await h.bus.publish("send:ch2", [{"n": 2}])
    got = await h.bus.consume("send:ch2", "workers", "w", count=10, block=0)
    assert payloads(got) == [{"n": 2}]


async def test_dead_consumer_work_is_reclaimed(h: Harness) -> None:
    await h.bus.publish(STREAM, [{"n": i} for i in range(3)])
    taken = await h.bus.consume(STREAM, "workers", "dead", count=2, block=0)
    assert [d.payload["n"] for d in taken] == [0, 1]
    # "dead" never acks. Not idle long enough yet: nothing to take over.
    await h.age(STREAM, "workers", 5)
    assert await h.bus.reclaim(STREAM, "workers", "alive", min_idle=10, count=10) == []
    await h.age(STREAM, "workers", 6)
    took_over = await h.bus.reclaim(STREAM, "workers", "alive", min_idle=10, count=10)
    assert [(d.id, d.payload, d.attempts) for d in took_over] == [
        (d.id, d.payload, 2) for d in taken
    ]
    # the entry "dead" never read is still there for a normal consume
    rest = await h.bus.consume(STREAM, "workers", "alive", count=10, block=0)
    assert [d.payload["n"] for d in rest] == [2]
    # a second takeover counts again; after the ack nothing is left anywhere
    await h.age(STREAM, "workers", 11)
    again = await h.bus.reclaim(STREAM, "workers", "third", min_idle=10, count=1)
    assert [(d.payload["n"], d.attempts) for d in again] == [(0, 3)]
    await h.bus.ack(STREAM, "workers", [d.id for d in took_over + rest])
    await h.age(STREAM, "workers", 100)
    assert await h.bus.reclaim(STREAM, "workers", "alive", min_idle=0, count=10) == []


async def test_reclaim_honours_count(h: Harness) -> None:
    await h.bus.publish(STREAM, [{"n": i} for i in range(5)])
    await h.bus.consume(STREAM, "workers", "dead", count=5, block=0)
    await h.age(STREAM, "workers", 60)
    first = await h.bus.reclaim(STREAM, "workers", "alive", min_idle=30, count=2)
    second = await h.bus.reclaim(STREAM, "workers", "alive", min_idle=30, count=10)
    assert [d.payload["n"] for d in first] == [0, 1]
    assert [d.payload["n"] for d in second] == [2, 3, 4]


async def test_reclaim_on_a_new_group_is_empty(h: Harness) -> None:
    assert await h.bus.reclaim(STREAM, "fresh", "w", min_idle=0, count=10) == []


async def test_work_published_before_the_first_worker_is_delivered(h: Harness) -> None:
    await h.bus.publish(STREAM, [{"early": True}])
    got = await h.bus.consume(STREAM, "late-group", "w", count=10, block=0)
    assert payloads(got) == [{"early": True}]


async def test_consume_blocks_until_something_is_published(h: Harness) -> None:
    await h.bus.consume(STREAM, "workers", "w", count=10, block=0)  # group exists
    task = asyncio.create_task(h.bus.consume(STREAM, "workers", "w", count=10, block=30))
    await asyncio.wait_for(h.wait_blocked(), 10)
    assert not task.done()
    await h.bus.publish(STREAM, [{"wake": 1}])
    got = await asyncio.wait_for(task, 10)
    assert payloads(got) == [{"wake": 1}]


async def test_consume_gives_up_after_block(h: Harness) -> None:
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await h.bus.consume(STREAM, "workers", "w", count=10, block=0.05) == []
    assert loop.time() - started >= 0.04


async def test_unknown_schema_version_is_logged_and_acked(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await h.bus.publish(STREAM, [{"n": 1}])
    await h.append_raw(STREAM, '{"v": 2, "n": 2}')
    await h.append_raw(STREAM, '{"n": 3}')
    await h.append_raw(STREAM, "not json")
    await h.append_raw(STREAM, '["v", 1]')
    await h.bus.publish(STREAM, [{"n": 6}])
    with caplog.at_level(logging.ERROR, logger="duanxin.bus"):
        got = await h.bus.consume(STREAM, "workers", "w", count=10, block=0)
    assert payloads(got) == [{"n": 1}, {"n": 6}]
    assert sum("unknown schema version 2" in r.getMessage() for r in caplog.records) == 1
    assert sum("unknown schema version None" in r.getMessage() for r in caplog.records) == 1
    assert sum("not a JSON object" in r.getMessage() for r in caplog.records) == 2
    await h.bus.ack(STREAM, "workers", [d.id for d in got])
    await h.age(STREAM, "workers", 3600)
    assert await h.bus.reclaim(STREAM, "workers", "w2", min_idle=0, count=10) == []


async def test_only_bad_entries_then_a_good_one_while_blocking(h: Harness) -> None:
    await h.append_raw(STREAM, '{"v": 99}')
    task = asyncio.create_task(h.bus.consume(STREAM, "workers", "w", count=10, block=30))
    await asyncio.wait_for(h.wait_blocked(), 10)
    await h.bus.publish(STREAM, [{"n": 1}])
    assert payloads(await asyncio.wait_for(task, 10)) == [{"n": 1}]


async def test_version_field_is_reserved(h: Harness) -> None:
    with pytest.raises(ValueError, match="reserved"):
        await h.bus.publish(STREAM, [{"v": 2}])


async def test_unserialisable_batch_publishes_nothing(h: Harness) -> None:
    with pytest.raises(TypeError):
        await h.bus.publish(STREAM, [{"n": 1}, {"n": object()}])
    assert await h.bus.consume(STREAM, "workers", "w", count=10, block=0) == []


async def test_unknown_ids_are_ignored_by_ack(h: Harness) -> None:
    await h.bus.publish(STREAM, [{"n": 1}])
    await h.bus.ack(STREAM, "workers", ["1-0", "999999-0"])
    await h.bus.ack(STREAM, "nobody", ["1-0"])
    got = await h.bus.consume(STREAM, "workers", "w", count=10, block=0)
    assert payloads(got) == [{"n": 1}]


async def test_memory_bus_forgets_entries_every_group_acked() -> None:
    bus = MemoryBus()
    await bus.publish(STREAM, [{"n": i} for i in range(10)])
    got = await bus.consume(STREAM, "a", "w", count=10, block=0)
    await bus.ack(STREAM, "a", [d.id for d in got[1:]])
    assert len(bus._streams[STREAM].entries) == 10  # the first is still pending
    await bus.ack(STREAM, "a", [got[0].id])
    assert bus._streams[STREAM].entries == {}
    await bus.close()


async def test_memory_bus_close_wakes_blocked_consumers() -> None:
    bus = MemoryBus()
    task = asyncio.create_task(bus.consume(STREAM, "a", "w", count=1, block=30))
    await until(lambda: STREAM in bus._streams and bool(bus._streams[STREAM].waiters))
    await bus.close()
    assert await asyncio.wait_for(task, 5) == []


@pytest.mark.redis
async def test_redis_group_is_recreated_when_the_stream_is_deleted(
    redis_admin: tuple[Redis, str],
) -> None:
    admin, prefix = redis_admin
    bus = RedisBus(REDIS_URL, prefix=prefix)
    try:
        assert await bus.consume(STREAM, "workers", "w", count=10, block=0) == []
        await admin.delete(Keys(prefix).stream(STREAM))
        await bus.publish(STREAM, [{"n": 1}])
        got = await bus.consume(STREAM, "workers", "w", count=10, block=0)
        assert payloads(got) == [{"n": 1}]
        await admin.delete(Keys(prefix).stream(STREAM))
        assert await bus.reclaim(STREAM, "workers", "w", min_idle=0, count=10) == []
    finally:
        await bus.close()


@pytest.mark.redis
async def test_redis_trims_with_maxlen_and_stores_versioned_json(
    redis_admin: tuple[Redis, str],
) -> None:
    admin, prefix = redis_admin
    bus = RedisBus(REDIS_URL, prefix=prefix, maxlen=10)
    try:
        await bus.publish(STREAM, [{"n": i} for i in range(1000)])
        key = Keys(prefix).stream(STREAM)
        assert await admin.xlen(key) < 1000
        ((_, fields),) = await admin.xrevrange(key, count=1)
        assert fields == {STREAM_FIELD: '{"v":1,"n":999}'}
    finally:
        await bus.close()


async def test_open_bus() -> None:
    for url in (None, "memory://"):
        bus = open_bus(url)
        assert isinstance(bus, MemoryBus)
        await bus.close()
    bus = open_bus("redis://127.0.0.1:6379/0", prefix="x:")
    assert isinstance(bus, RedisBus)
    await bus.close()
    with pytest.raises(ValueError, match="unsupported"):
        open_bus("amqp://localhost")
