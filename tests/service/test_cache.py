"""The TTL cache stays bounded whatever keys callers make up (a fake clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from duanxin.service.cache import TtlCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _none() -> None:
    return None


async def test_made_up_keys_do_not_grow_the_cache_without_bound() -> None:
    clock = Clock()
    cache: TtlCache[str, None] = TtlCache(60, clock, max_entries=100)
    for i in range(10_000):
        await cache.get(f"AKIDmadeup{i}", _none)
    assert len(cache._entries) <= 100


async def test_expired_entries_go_first_and_fresh_ones_stay() -> None:
    clock = Clock()
    cache: TtlCache[str, str] = TtlCache(10, clock, max_entries=4)
    loads: list[str] = []

    def loader(value: str) -> Callable[[], Awaitable[str]]:
        async def load() -> str:
            loads.append(value)
            return value

        return load

    for key in ("a", "b", "c"):
        await cache.get(key, loader(key))
    clock.now = 20.0  # a, b, c expire
    await cache.get("d", loader("d"))
    await cache.get("e", loader("e"))  # full: the expired three make room
    assert await cache.get("d", loader("d2")) == "d"  # still cached
    assert await cache.get("e", loader("e2")) == "e"
    assert loads == ["a", "b", "c", "d", "e"]


async def test_callers_that_miss_together_share_one_load() -> None:
    cache: TtlCache[str, str] = TtlCache(10, Clock())
    started, release = asyncio.Event(), asyncio.Event()
    loads: list[str] = []

    async def load() -> str:
        loads.append("x")
        started.set()
        await release.wait()
        return "value"

    waiting = [asyncio.create_task(cache.get("k", load)) for _ in range(5)]
    await started.wait()  # the load runs after every caller has missed and joined it
    release.set()
    assert await asyncio.gather(*waiting) == ["value"] * 5
    assert loads == ["x"]
    assert await cache.get("k", load) == "value"  # cached: no second load
    assert loads == ["x"]


async def test_a_failed_load_reaches_every_caller_and_is_not_kept() -> None:
    cache: TtlCache[str, str] = TtlCache(10, Clock())
    started, release = asyncio.Event(), asyncio.Event()

    async def failing() -> str:
        started.set()
        await release.wait()
        raise RuntimeError("database away")

    waiting = [asyncio.create_task(cache.get("k", failing)) for _ in range(3)]
    await started.wait()
    release.set()
    results = await asyncio.gather(*waiting, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)

    async def working() -> str:
        return "value"

    assert await cache.get("k", working) == "value"


async def test_a_cancelled_caller_leaves_the_load_to_the_others() -> None:
    cache: TtlCache[str, str] = TtlCache(10, Clock())
    started, release = asyncio.Event(), asyncio.Event()

    async def load() -> str:
        started.set()
        await release.wait()
        return "value"

    first = asyncio.create_task(cache.get("k", load))
    second = asyncio.create_task(cache.get("k", load))
    await started.wait()  # both callers are waiting on the one load
    first.cancel()
    release.set()
    assert await second == "value"
    assert first.cancelled()


async def test_a_load_begun_before_an_invalidation_is_not_kept() -> None:
    cache: TtlCache[str, str] = TtlCache(10, Clock())
    started, release = asyncio.Event(), asyncio.Event()
    values = iter(["before the change", "after the change"])

    async def load() -> str:
        value = next(values)
        if value == "before the change":
            started.set()
            await release.wait()
        return value

    early = asyncio.create_task(cache.get("k", load))
    await started.wait()  # the early load is under way
    cache.invalidate("k")  # an operator changed it meanwhile
    assert await cache.get("k", load) == "after the change"  # not the load under way
    release.set()
    assert await early == "before the change"
    assert await cache.get("k", load) == "after the change"  # the early load was not kept
