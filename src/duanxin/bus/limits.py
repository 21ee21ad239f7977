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

``hit_many(batch, now)`` does the same for a whole request at once: each item of the batch
is one number's ``(key, limits)`` checks, allowed (and recorded on every key) only if every
check allows it, else recorded on none. Redis runs the batch as one Lua script (one round
trip for 500 numbers, never a connection per number). What it recorded comes back as
:class:`Hits`; ``undo(hits)`` takes those hits back (a request refused after the check,
for balance or by an error, counts nothing).

:class:`RedisBuckets` is the other kind of limit: a token bucket (``rate`` tokens a second,
up to ``capacity`` saved up) shared by every process, for the TPS of an account and of a
channel; a process takes several tokens in one call when several senders wait.

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
from dataclasses import dataclass, field
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from duanxin.bus.base import BusError
from duanxin.bus.keys import DEFAULT_PREFIX, Keys

__all__ = [
    "Check",
    "FallbackLimiter",
    "Grant",
    "Hits",
    "Limits",
    "MemoryLimiter",
    "RateLimiter",
    "RedisBuckets",
    "RedisLimiter",
    "RedisSlots",
    "open_limiter",
]

Limits = Sequence[tuple[int, float]]
Check = tuple[str, Limits]  # one key and its limits
log = logging.getLogger(__name__)


@dataclass
class Hits:
    """The outcome of :meth:`RateLimiter.hit_many`: which items were allowed, and the hits
    recorded for them (``(key, member)`` pairs; what :meth:`RateLimiter.undo` removes)."""

    allowed: list[bool]
    recorded: list[tuple[str, str]] = field(default_factory=list)
    local: bool = False  # recorded by the in-process fallback, not the shared backend


class RateLimiter(Protocol):
    async def hit(self, key: str, limits: Limits, now: float) -> bool:
        """Record a hit on ``key`` at ``now`` if every limit allows it; True if recorded."""
        ...

    async def hit_many(self, batch: Sequence[Sequence[Check]], now: float) -> Hits:
        """For each item (one number's checks): record a hit on each of its keys if every
        check allows it, else on none; atomic per item, one round trip for the batch."""
        ...

    async def undo(self, hits: Hits) -> None:
        """Take back the hits :meth:`hit_many` recorded (the request was not accepted)."""
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
        return (await self.hit_many([[(key, limits)]], now)).allowed[0]

    async def hit_many(self, batch: Sequence[Sequence[Check]], now: float) -> Hits:
        hits = Hits([])
        # Each limits object is looked at once per batch (a request's numbers share a
        # few): its longest window, and whether a key with no hits yet is allowed.
        known: dict[int, tuple[float, bool]] = {}
        held, horizon = self._hits, self._horizon
        member = repr(now)
        allowed_list, recorded = hits.allowed, hits.recorded
        for checks in batch:
            allowed = True
            for key, limits in checks:
                facts = known.get(id(limits))
                if facts is None:
                    facts = known[id(limits)] = (
                        _longest_window(limits),
                        all(count > 0 for count, _ in limits),
                    )
                times = held.get(key)
                if not (self._allows(times, limits, facts[0], now) if times else facts[1]):
                    allowed = False
                    break
            allowed_list.append(allowed)
            if not allowed:
                continue
            for key, limits in checks:
                times = held.get(key)
                if times is None:
                    held[key] = [now]
                else:
                    insort(times, now)
                until = now + known[id(limits)][0]
                if until > horizon.get(key, -math.inf):
                    horizon[key] = until
                recorded.append((key, member))
        self._sweep(now)
        return hits

    @staticmethod
    def _allows(times: list[float], limits: Limits, longest: float, now: float) -> bool:
        del times[: bisect_right(times, now - longest)]
        held = len(times)
        return all(held - bisect_right(times, now - window) < count for count, window in limits)

    async def undo(self, hits: Hits) -> None:
        for key, member in hits.recorded:
            times = self._hits.get(key)
            if times is None:
                continue
            at = float(member)
            index = bisect_right(times, at) - 1
            if index >= 0 and times[index] == at:
                del times[index]

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


# A batch of items, each one number's checks. KEYS: the sorted sets of hit times (score =
# time), every item's keys in order. ARGV[1]: the score of the hits; then per item the
# number of its keys, and per key: the unique member of this hit, expiry in ms, cut-off of
# the longest window, the number of limits, then (count, "(" .. cut-off) pairs. An item is
# recorded on all its keys or none. Returns 1/0 per item. Cut-offs are computed in Python
# so both backends compare the very same floats.
_HIT_MANY_SCRIPT = """
local score = ARGV[1]
local a, k = 2, 1
local out = {}
for item = 1, 1000000 do
  if a > #ARGV then break end
  local nkeys = tonumber(ARGV[a]); a = a + 1
  local ok = true
  local first_a, first_k = a, k
  for j = 1, nkeys do
    local key = KEYS[k]
    redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[a + 2])
    local nlimits = tonumber(ARGV[a + 3])
    for i = 0, nlimits - 1 do
      local count = tonumber(ARGV[a + 4 + 2 * i])
      if ok and redis.call('ZCOUNT', key, ARGV[a + 5 + 2 * i], '+inf') >= count then
        ok = false
      end
    end
    a = a + 4 + 2 * nlimits; k = k + 1
  end
  if ok then
    a, k = first_a, first_k
    for j = 1, nkeys do
      redis.call('ZADD', KEYS[k], score, ARGV[a])
      redis.call('PEXPIRE', KEYS[k], ARGV[a + 1])
      a = a + 4 + 2 * tonumber(ARGV[a + 3]); k = k + 1
    end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
"""

# KEYS: sorted sets; ARGV: the member to remove from each, in the same order.
_UNDO_SCRIPT = """
for i = 1, #KEYS do redis.call('ZREM', KEYS[i], ARGV[i]) end
return #KEYS
"""


class RedisLimiter:
    """Redis backend: one sorted set per key, checked and updated atomically in Lua."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = Redis.from_url(url, decode_responses=True)
        self._keys = Keys(prefix)
        self._hit_many = self._redis.register_script(_HIT_MANY_SCRIPT)
        self._undo = self._redis.register_script(_UNDO_SCRIPT)

    async def hit(self, key: str, limits: Limits, now: float) -> bool:
        return (await self.hit_many([[(key, limits)]], now)).allowed[0]

    async def hit_many(self, batch: Sequence[Sequence[Check]], now: float) -> Hits:
        keys: list[str] = []
        args: list[str | int] = [repr(float(now))]
        members: list[list[tuple[str, str]]] = []
        windows: dict[int, float] = {}  # each limits object validated once per batch
        for checks in batch:
            args.append(len(checks))
            item: list[tuple[str, str]] = []
            for key, limits in checks:
                longest = windows.get(id(limits)) or windows.setdefault(
                    id(limits), _longest_window(limits)
                )
                member = secrets.token_hex(8)
                keys.append(self._keys.limit(key))
                item.append((key, member))
                args += [member, max(1, math.ceil(longest * 1000)), repr(now - longest)]
                args.append(len(limits))
                for count, window in limits:
                    args += [int(count), f"({now - window!r}"]
            members.append(item)
        if not batch:
            return Hits([])
        try:
            reply = await self._hit_many(keys=keys, args=args)
        except RedisError as exc:
            raise BusError(f"redis rate limit failed: {exc}") from exc
        allowed = [bool(int(flag)) for flag in reply]
        recorded = [hit for ok, item in zip(allowed, members, strict=True) if ok for hit in item]
        return Hits(allowed, recorded)

    async def undo(self, hits: Hits) -> None:
        if not hits.recorded:
            return
        keys = [self._keys.limit(key) for key, _ in hits.recorded]
        try:
            await self._undo(keys=keys, args=[member for _, member in hits.recorded])
        except RedisError as exc:
            raise BusError(f"redis rate limit undo failed: {exc}") from exc

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
        return (await self.hit_many([[(key, limits)]], now)).allowed[0]

    async def hit_many(self, batch: Sequence[Sequence[Check]], now: float) -> Hits:
        try:
            hits = await self._shared.hit_many(batch, now)
        except BusError as error:
            if not self._failing:
                log.warning("shared rate limits unreachable, counting in this process: %s", error)
                self._failing = True
            hits = await self._local.hit_many(batch, now)
            hits.local = True
            return hits
        if self._failing:
            log.warning("shared rate limits reachable again")
            self._failing = False
        return hits

    async def undo(self, hits: Hits) -> None:
        try:
            await (self._local if hits.local else self._shared).undo(hits)
        except BusError as error:  # the hits expire with their windows
            log.warning("could not take back rate-limit hits: %s", error)

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


# KEYS[1]: sorted set of requests in flight (score: when the slot expires). ARGV: now (s),
# expiry (s), the limit, this request's member. Slots of a process killed mid-request
# expire after ``SLOT_SECONDS`` instead of counting forever.
_TAKE_SLOT_SCRIPT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[2]) - tonumber(ARGV[1])) + 1)
return 1
"""
SLOT_SECONDS = 120.0  # longest a request may hold a concurrency slot (a killed process's)


class RedisSlots:
    """Requests in flight per key, counted across every process of a cluster (an account's
    concurrency limit, SPEC status 21): a sorted set of the requests holding a slot."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = Redis.from_url(url, decode_responses=True)
        self._keys = Keys(prefix)
        self._take = self._redis.register_script(_TAKE_SLOT_SCRIPT)

    async def take(self, key: str, limit: int, now: float) -> str | None:
        """A slot's token if fewer than ``limit`` requests hold one, else None."""
        member = secrets.token_hex(8)
        try:
            args: list[str | int] = [repr(now), repr(now + SLOT_SECONDS), limit, member]
            taken = await self._take(keys=[self._keys.limit(key)], args=args)
        except RedisError as exc:
            raise BusError(f"redis concurrency slot failed: {exc}") from exc
        return member if taken else None

    async def give_back(self, key: str, token: str) -> None:
        try:
            await self._redis.zrem(self._keys.limit(key), token)
        except RedisError as exc:
            raise BusError(f"redis concurrency slot failed: {exc}") from exc

    async def close(self) -> None:
        await self._redis.aclose()


# KEYS[1]: the bucket (hash: tokens, stamp). ARGV: rate (tokens/s), capacity, tokens
# wanted. The clock is the Redis server's, so processes whose clocks disagree share one
# bucket exactly. Returns the tokens granted and (a string: Lua numbers come back as
# integers) the seconds until the next token. A bucket left alone until full is deleted
# by its expiry, which is the same as full.
_TAKE_TOKENS_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, capacity, want = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
local tokens, stamp = tonumber(held[1]), tonumber(held[2])
if tokens == nil or stamp == nil then tokens, stamp = capacity, now end
if now > stamp then tokens = tokens + (now - stamp) * rate; stamp = now end
tokens = math.min(capacity, tokens)
local granted = math.max(0, math.min(want, math.floor(tokens)))
tokens = tokens - granted
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'stamp', tostring(stamp))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
local wait = 0
if tokens < 1 then wait = (1 - tokens) / rate end
return {granted, tostring(wait)}
"""


@dataclass(frozen=True, slots=True)
class Grant:
    """Tokens a :class:`RedisBuckets` call granted, and the seconds until the next one."""

    granted: int
    wait: float


class RedisBuckets:
    """Token buckets shared by every process of a cluster (an account's TPS, a channel's):
    one hash per bucket, refilled and spent atomically in Lua on Redis's clock."""

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
        self._redis = Redis.from_url(url, decode_responses=True)
        self._keys = Keys(prefix)
        self._take = self._redis.register_script(_TAKE_TOKENS_SCRIPT)

    async def take(self, key: str, rate: float, capacity: float, want: int = 1) -> Grant:
        """Up to ``want`` tokens from the bucket ``key`` (``rate`` a second, at most
        ``capacity`` saved); :class:`BusError` when Redis does not answer."""
        if not rate > 0 or not math.isfinite(rate) or want < 1:
            raise ValueError(f"invalid token bucket take (rate {rate}, want {want})")
        args: list[str | int] = [repr(float(rate)), repr(float(max(1.0, capacity))), want]
        try:
            granted, wait = await self._take(keys=[self._keys.bucket(key)], args=args)
        except RedisError as exc:
            raise BusError(f"redis token bucket failed: {exc}") from exc
        return Grant(int(granted), float(wait))

    async def close(self) -> None:
        await self._redis.aclose()
