"""Sliding-window rate limits: "at most N hits per window" for any key, several windows at once.

Used for per-number frequency limits (1/minute, 5/hour, 10/day ...) and channel TPS.
``hit(key, limits, now)`` checks every ``(count, window_seconds)`` pair: if one window
already holds ``count`` hits the hit is refused and *not* recorded; otherwise it is
recorded and allowed. A hit at ``t`` counts for windows ending in ``[t, t + window)``, so
with ``(1, 60.0)`` a hit at 0 refuses a second one at 59.9 and allows it at 60.

The clock is the caller's (``now``, seconds; in the cluster every process must use the
same clock, e.g. wall time). Give one key the same limits on every call: old hits are
forgotten by the longest window of the current call. A hit stamped earlier than hits
already recorded (clocks of two processes disagreeing) is judged against the hits still
held, which is exact as long as the disagreement is small against the windows.

Backends: :class:`MemoryLimiter` (a sorted list of hit times per key) and
:class:`RedisLimiter` (a sorted set per key, checked and updated in one Lua script, so
concurrent hits from many processes never exceed a limit).
"""

from __future__ import annotations

import logging
import math
import secrets
from bisect import bisect_right, insort
from collections.abc import Sequence
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from duanxin.bus.base import BusError
from duanxin.bus.keys import DEFAULT_PREFIX, Keys

__all__ = [
    "FallbackLimiter",
    "Limits",
    "MemoryLimiter",
    "RateLimiter",
    "RedisLimiter",
    "open_limiter",
]

Limits = Sequence[tuple[int, float]]
log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    async def hit(self, key: str, limits: Limits, now: float) -> bool:
        """Record a hit on ``key`` at ``now`` if every limit allows it; True if recorded."""
        ...

    async def close(self) -> None: ...


def _longest_window(limits: Limits) -> float:
    if not limits:
        raise ValueError("at least one (count, window) limit is required")
    for count, window in limits:
        if count < 0 or not window > 0 or not math.isfinite(window):
            raise ValueError(f"invalid limit ({count}, {window})")
    return max(window for _, window in limits)


class MemoryLimiter:
    """In-process backend: exact sliding windows over a sorted list of hit times per key."""

    def __init__(self) -> None:
        self._hits: dict[str, list[float]] = {}
        self._horizon: dict[str, float] = {}  # time after which a key holds nothing alive
        self._since_sweep = 0

    async def hit(self, key: str, limits: Limits, now: float) -> bool:
        longest = _longest_window(limits)
        times = self._hits.get(key, [])
        del times[: bisect_right(times, now - longest)]
        for count, window in limits:
            if len(times) - bisect_right(times, now - window) >= count:
                return False
        insort(times, now)
        self._hits[key] = times
        self._horizon[key] = max(self._horizon.get(key, -math.inf), now + longest)
        self._sweep(now)
        return True

    def _sweep(self, now: float) -> None:
        """Forget idle keys; amortised O(1) per hit (a full pass once per len(keys) hits)."""
        self._since_sweep += 1
        if self._since_sweep < len(self._hits):
            return
        self._since_sweep = 0
        for key in [k for k, until in self._horizon.items() if until <= now]:
            del self._hits[key], self._horizon[key]

    async def close(self) -> None:
        self._hits.clear()
        self._horizon.clear()


# KEYS[1]: sorted set of hit times (score = time). ARGV: score and unique member of this
# hit, expiry in ms, cut-off of the longest window, then (count, "(" .. cut-off) pairs.
# Cut-offs are computed in Python so both backends compare the very same floats.
_HIT_SCRIPT = """
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[4])
for i = 5, #ARGV, 2 do
  if redis.call('ZCOUNT', key, ARGV[i + 1], '+inf') >= tonumber(ARGV[i]) then
    return 0
  end
end
redis.call('ZADD', key, ARGV[1], ARGV[2])
redis.call('PEXPIRE', key, ARGV[3])
return 1
"""


class RedisLimiter:
    """Redis backend: one sorted set per key, checked and updated atomically in Lua."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = Redis.from_url(url, decode_responses=True)
        self._keys = Keys(prefix)
        self._script = self._redis.register_script(_HIT_SCRIPT)

    async def hit(self, key: str, limits: Limits, now: float) -> bool:
        longest = _longest_window(limits)
        args: list[str | int] = [
            repr(float(now)),
            secrets.token_hex(8),
            max(1, math.ceil(longest * 1000)),
            repr(now - longest),
        ]
        for count, window in limits:
            args += [int(count), f"({now - window!r}"]
        try:
            allowed = await self._script(keys=[self._keys.limit(key)], args=args)
        except RedisError as exc:
            raise BusError(f"redis rate limit failed: {exc}") from exc
        return bool(allowed)

    async def close(self) -> None:
        await self._redis.aclose()


class FallbackLimiter:
    """The shared limiter, and while it fails (Redis unreachable) this process's own counts:
    limits then hold per process instead of across the cluster, and sends are not refused
    because the shared counter is away."""

    def __init__(self, shared: RateLimiter, local: RateLimiter | None = None) -> None:
        self._shared = shared
        self._local = local if local is not None else MemoryLimiter()
        self._failing = False

    async def hit(self, key: str, limits: Limits, now: float) -> bool:
        try:
            allowed = await self._shared.hit(key, limits, now)
        except BusError as error:
            if not self._failing:
                log.warning("shared rate limits unreachable, counting in this process: %s", error)
                self._failing = True
            return await self._local.hit(key, limits, now)
        if self._failing:
            log.warning("shared rate limits reachable again")
            self._failing = False
        return allowed

    async def close(self) -> None:
        await self._shared.close()
        await self._local.close()


def open_limiter(url: str | None, *, prefix: str = DEFAULT_PREFIX) -> RateLimiter:
    """The limiter for a settings URL: ``None``/``memory://`` in-process, ``redis://`` Redis
    (with in-process counts while Redis is unreachable)."""
    if url is None or url == "memory://":
        return MemoryLimiter()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return FallbackLimiter(RedisLimiter(url, prefix=prefix))
    raise ValueError(f"unsupported limiter URL {url!r}: use memory:// or redis://")
