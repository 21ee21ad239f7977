"""Sliding-window rate limits, the same tests against the in-process and the Redis backends."""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import AsyncIterator, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from duanxin.bus.keys import Keys
from duanxin.bus.limits import (
    FallbackLimiter,
    MemoryLimiter,
    RateLimiter,
    RedisLimiter,
    open_limiter,
)

REDIS_URL = os.environ.get("DUANXIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
T0 = 1_700_000_000.0  # a wall-clock-like time, to exercise float precision at the edges
VERIFY_CODE = [(1, 60.0), (5, 3600.0), (10, 86400.0)]


class Limiters:
    """Factory for limiters sharing one backend (several "processes" for Redis)."""

    def __init__(self, kind: str, prefix: str) -> None:
        self.kind, self.prefix = kind, prefix
        self.made: list[RateLimiter] = []
        self._memory = MemoryLimiter()

    def new(self) -> RateLimiter:
        if self.kind == "memory":
            return self._memory
        limiter = RedisLimiter(REDIS_URL, prefix=self.prefix)
        self.made.append(limiter)
        return limiter


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def limiters(request: pytest.FixtureRequest) -> AsyncIterator[Limiters]:
    prefix = f"duanxin-test:{uuid.uuid4().hex}:"
    if request.param == "memory":
        yield Limiters("memory", prefix)
        return
    admin = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await admin.ping()
    except OSError as exc:
        await admin.aclose()
        unreachable = f"Redis not reachable at {REDIS_URL}: {exc}"
        if os.environ.get("DUANXIN_REQUIRE_SERVICES") == "1":  # CI: a missing Redis fails
            pytest.fail(unreachable)
        pytest.skip(unreachable)
    made = Limiters("redis", prefix)
    try:
        yield made
    finally:
        for limiter in made.made:
            await limiter.close()
        keys = [k async for k in admin.scan_iter(match=Keys(prefix).pattern())]
        if keys:
            await admin.delete(*keys)
        await admin.aclose()


@pytest.fixture
def limiter(limiters: Limiters) -> RateLimiter:
    return limiters.new()


async def test_window_edge(limiter: RateLimiter) -> None:
    assert await limiter.hit("n:13800138000", [(1, 60.0)], T0)
    assert not await limiter.hit("n:13800138000", [(1, 60.0)], T0 + 59.999)
    assert await limiter.hit("n:13800138000", [(1, 60.0)], T0 + 60)
    assert not await limiter.hit("n:13800138000", [(1, 60.0)], T0 + 60)


async def test_count_within_window(limiter: RateLimiter) -> None:
    results = [await limiter.hit("tps", [(3, 1.0)], T0 + i * 0.1) for i in range(10)]
    assert results == [True] * 3 + [False] * 7
    assert await limiter.hit("tps", [(3, 1.0)], T0 + 1.0)  # the hit at T0 left the window
    assert not await limiter.hit("tps", [(3, 1.0)], T0 + 1.05)
    assert await limiter.hit("tps", [(3, 1.0)], T0 + 1.1)


async def test_refused_hits_are_not_counted(limiter: RateLimiter) -> None:
    assert await limiter.hit("k", [(2, 10.0)], T0)
    assert await limiter.hit("k", [(2, 10.0)], T0 + 1)
    for i in range(50):
        assert not await limiter.hit("k", [(2, 10.0)], T0 + 2 + i * 0.1)
    # Had the refusals been recorded, the window would still be full.
    assert await limiter.hit("k", [(2, 10.0)], T0 + 10)
    assert not await limiter.hit("k", [(2, 10.0)], T0 + 10.5)
    assert await limiter.hit("k", [(2, 10.0)], T0 + 11)


async def test_verification_code_defaults_over_a_day(limiter: RateLimiter) -> None:
    allowed = [t for t in range(0, 86400, 30) if await limiter.hit("vc", VERIFY_CODE, T0 + t)]
    # 1/minute, then 5/hour: hours 0 and 1 give 5 each, and the day cap of 10 stops the rest
    assert allowed == [0, 60, 120, 180, 240, 3600, 3660, 3720, 3780, 3840]


async def test_keys_are_independent(limiter: RateLimiter) -> None:
    assert await limiter.hit("a", [(1, 60.0)], T0)
    assert await limiter.hit("b", [(1, 60.0)], T0)
    assert not await limiter.hit("a", [(1, 60.0)], T0 + 1)


async def test_zero_count_always_refuses(limiter: RateLimiter) -> None:
    assert not await limiter.hit("blocked", [(0, 60.0)], T0)


@pytest.mark.parametrize("limits", [[], [(1, 0.0)], [(1, -1.0)], [(-1, 1.0)], [(1, float("inf"))]])
async def test_invalid_limits_are_rejected(
    limiter: RateLimiter, limits: Sequence[tuple[int, float]]
) -> None:
    with pytest.raises(ValueError):
        await limiter.hit("k", limits, T0)


async def test_concurrent_hits_never_exceed_the_limit(limiters: Limiters) -> None:
    processes = [limiters.new() for _ in range(4)]
    results = await asyncio.gather(
        *(processes[i % 4].hit("hot", [(7, 60.0), (100, 3600.0)], T0) for i in range(60))
    )
    assert sum(results) == 7


async def test_agrees_with_a_reference_on_a_random_trace(limiter: RateLimiter) -> None:
    rnd = random.Random(7)
    limits = [(3, 10.0), (5, 60.0)]
    model: dict[str, list[float]] = {}
    now = T0
    for _ in range(400):
        now += rnd.choice([0.0, 0.5, 1.0, 2.5, 10.0, 30.0])
        key = rnd.choice("abc")
        assert await limiter.hit(key, limits, now) == _reference_hit(model, key, limits, now)


def _reference_hit(
    model: dict[str, list[float]], key: str, limits: Sequence[tuple[int, float]], now: float
) -> bool:
    times = model.setdefault(key, [])
    if any(sum(t > now - w for t in times) >= c for c, w in limits):
        return False
    times.append(now)
    return True


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("xy"), st.floats(0, 200, allow_nan=False)),
        max_size=60,
    ),
    st.lists(
        st.tuples(st.integers(0, 4), st.sampled_from([1.0, 7.5, 60.0])), min_size=1, max_size=3
    ),
)
def test_memory_limiter_matches_reference(
    hits: list[tuple[str, float]], limits: list[tuple[int, float]]
) -> None:
    async def run() -> None:
        limiter = MemoryLimiter()
        model: dict[str, list[float]] = {}
        for key, offset in sorted(hits, key=lambda kv: kv[1]):
            now = T0 + offset
            assert await limiter.hit(key, limits, now) == _reference_hit(model, key, limits, now)

    asyncio.run(run())


async def test_memory_limiter_forgets_idle_keys() -> None:
    limiter = MemoryLimiter()
    for i in range(1000):
        assert await limiter.hit(f"n:{i}", [(1, 60.0)], T0)
    for i in range(2000):
        await limiter.hit("busy", [(10**6, 1.0)], T0 + 61 + i * 0.001)
    assert set(limiter._hits) == {"busy"}


@pytest.mark.redis
async def test_redis_key_expires_with_the_longest_window() -> None:
    keys = Keys(f"duanxin-test:{uuid.uuid4().hex}:")
    limiter = RedisLimiter(REDIS_URL, prefix=keys.prefix)
    admin = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        assert await limiter.hit("exp", [(1, 60.0), (5, 3600.0)], T0)
        ttl = await admin.pttl(keys.limit("exp"))
        assert 3_590_000 < ttl <= 3_600_000
    finally:
        await admin.delete(keys.limit("exp"))
        await admin.aclose()
        await limiter.close()


async def test_open_limiter() -> None:
    for url in (None, "memory://"):
        limiter = open_limiter(url)
        assert isinstance(limiter, MemoryLimiter)
        await limiter.close()
    limiter = open_limiter("redis://127.0.0.1:6379/0", prefix="x:")
    assert isinstance(limiter, FallbackLimiter)
    await limiter.close()
    with pytest.raises(ValueError, match="unsupported"):
        open_limiter("memcached://localhost")


async def test_limits_hold_in_this_process_while_redis_is_unreachable() -> None:
    from duanxin.runtime import free_port

    dead = RedisLimiter(f"redis://127.0.0.1:{free_port()}/0")  # nothing listens there
    limiter = FallbackLimiter(dead)
    try:
        assert await limiter.hit("m:13800138000", VERIFY_CODE, T0)
        assert not await limiter.hit("m:13800138000", VERIFY_CODE, T0 + 59)  # 1/min still holds
        assert await limiter.hit("m:13800138000", VERIFY_CODE, T0 + 60)
        assert await limiter.hit("m:18600000000", VERIFY_CODE, T0 + 1)
    finally:
        await limiter.close()


ACCOUNT = [(1, 60.0)]
PLATFORM = [(2, 86400.0)]


def _checks(number: str) -> list[tuple[str, Sequence[tuple[int, float]]]]:
    return [(f"acct:{number}", ACCOUNT), (f"all:{number}", PLATFORM)]


async def test_a_batch_counts_each_number_on_all_its_keys_or_none(limiter: RateLimiter) -> None:
    numbers = [f"1380000{i:04d}" for i in range(500)]
    first = await limiter.hit_many([_checks(n) for n in numbers], T0)
    assert first.allowed == [True] * 500
    assert len(first.recorded) == 1000
    # A minute later the account scope allows again; the platform scope allows one more.
    second = await limiter.hit_many([_checks(n) for n in numbers[:10]], T0 + 60)
    assert second.allowed == [True] * 10
    # The third send to a number is refused by the platform scope; its account-scope key
    # is then not counted either, so after the day the account scope still allows it.
    third = await limiter.hit_many([_checks(numbers[0])], T0 + 120)
    assert third.allowed == [False] and third.recorded == []
    assert await limiter.hit(f"acct:{numbers[0]}", ACCOUNT, T0 + 121)


async def test_a_batch_judges_a_repeated_number_against_its_own_earlier_item(
    limiter: RateLimiter,
) -> None:
    hits = await limiter.hit_many([_checks("13800138000"), _checks("13800138000")], T0)
    assert hits.allowed == [True, False]


async def test_undo_takes_a_refused_requests_hits_back(limiter: RateLimiter) -> None:
    numbers = ["13800138000", "18600000000"]
    hits = await limiter.hit_many([_checks(n) for n in numbers], T0)
    assert hits.allowed == [True, True]
    await limiter.undo(hits)
    again = await limiter.hit_many([_checks(n) for n in numbers], T0 + 1)
    assert again.allowed == [True, True]  # as if the first request had never been counted


async def test_concurrent_batches_never_exceed_the_limit(limiters: Limiters) -> None:
    processes = [limiters.new() for _ in range(4)]
    numbers = [f"1860000{i:04d}" for i in range(100)]
    batches = await asyncio.gather(
        *(processes[i].hit_many([_checks(n) for n in numbers], T0) for i in range(4))
    )
    per_number = [sum(b.allowed[i] for b in batches) for i in range(len(numbers))]
    assert per_number == [1] * len(numbers)  # 1/minute: one request of the four got each


async def test_a_batch_falls_back_to_this_process_and_undoes_there() -> None:
    from duanxin.runtime import free_port

    limiter = FallbackLimiter(RedisLimiter(f"redis://127.0.0.1:{free_port()}/0"))
    try:
        hits = await limiter.hit_many([_checks("13800138000")], T0)
        assert hits.allowed == [True] and hits.local
        assert (await limiter.hit_many([_checks("13800138000")], T0 + 1)).allowed == [False]
        await limiter.undo(hits)
        assert (await limiter.hit_many([_checks("13800138000")], T0 + 2)).allowed == [True]
    finally:
        await limiter.close()


@pytest.mark.redis
async def test_concurrency_slots_are_shared_by_processes_and_expire() -> None:
    from duanxin.bus.limits import SLOT_SECONDS, RedisSlots

    prefix = f"duanxin-test:{uuid.uuid4().hex}:"
    first, second = RedisSlots(REDIS_URL, prefix=prefix), RedisSlots(REDIS_URL, prefix=prefix)
    try:
        a = await first.take("inflight:7", 2, T0)
        b = await second.take("inflight:7", 2, T0)
        assert a and b
        assert await first.take("inflight:7", 2, T0) is None  # two in flight, cluster-wide
        assert await second.take("inflight:8", 2, T0)  # another account is not affected
        await second.give_back("inflight:7", b)
        assert await first.take("inflight:7", 2, T0 + 1)
        # The slots of a process killed mid-request do not count for ever.
        assert await first.take("inflight:7", 2, T0 + SLOT_SECONDS + 2)
    finally:
        await first.close()
        await second.close()
        admin = Redis.from_url(REDIS_URL)
        keys = [k async for k in admin.scan_iter(match=Keys(prefix).pattern())]
        if keys:
            await admin.delete(*keys)
        await admin.aclose()
