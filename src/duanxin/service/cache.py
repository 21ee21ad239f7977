"""A small time-bounded cache for what every request reads and operators rarely change.

Changes made through the service layer invalidate entries at once in this process; other
processes of a cluster (and the CLI) are seen after ``ttl`` seconds.

Callers that miss the same key together share one load: when an entry expires under load,
every request in flight would otherwise read it again (32 concurrent sends made 32 account
reads every two seconds, about a tenth of the request path's CPU).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


DEFAULT_MAX_ENTRIES = 100_000


class TtlCache(Generic[K, V]):
    """Values loaded on demand and kept for ``ttl`` seconds."""

    def __init__(
        self,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}
        self._generation = 0  # bumped by invalidate(): a load begun before stores nothing

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value for ``key``, loading it when missing or older than ``ttl``
        (one load for every caller that misses while it runs)."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        loading = self._loading.get(key)
        if loading is None:
            loading = asyncio.get_running_loop().create_task(
                self._load(key, load, now, self._generation)
            )
            self._loading[key] = loading
        # A caller cancelled while it waits leaves the load to the others.
        return await asyncio.shield(loading)

    async def _load(
        self, key: K, load: Callable[[], Awaitable[V]], began: float, generation: int
    ) -> V:
        try:
            value = await load()
        finally:
            if self._loading.get(key) is asyncio.current_task():
                del self._loading[key]
        if generation == self._generation:
            if key not in self._entries and len(self._entries) >= self.max_entries:
                self._make_room(began)
            self._entries[key] = (began, value)
        return value

    def _make_room(self, now: float) -> None:
        """Drop expired entries; if none had expired, the older half. Keys can come from
        callers (a flood of made-up SecretIds): the cache must not grow without bound."""
        entries = self._entries
        fresh = {k: e for k, e in entries.items() if now - e[0] < self.ttl}
        if len(fresh) >= self.max_entries:
            fresh = dict(list(fresh.items())[len(fresh) // 2 :])
        self._entries = fresh

    def invalidate(self, key: K | None = None) -> None:
        """Forget ``key`` (or everything); a load under way is not kept, and the next
        caller loads afresh."""
        self._generation += 1
        if key is None:
            self._entries.clear()
            self._loading.clear()
        else:
            self._entries.pop(key, None)
            self._loading.pop(key, None)
