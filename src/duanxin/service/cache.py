"""A small time-bounded cache for what every request reads and operators rarely change.

Changes made through the service layer invalidate entries at once in this process; other
processes of a cluster (and the CLI) are seen after ``ttl`` seconds.
"""

from __future__ import annotations

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

    async def get(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """The cached value for ``key``, loading it when missing or older than ``ttl``."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]
        value = await load()
        if entry is None and len(self._entries) >= self.max_entries:
            self._make_room(now)
        self._entries[key] = (now, value)
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
        """Forget ``key`` (or everything)."""
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)
