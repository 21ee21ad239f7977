"""The TTL cache stays bounded whatever keys callers make up (a fake clock)."""

from __future__ import annotations

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
