"""Leases in Redis: a key held by one owner token until it expires or is released.

``take`` sets the key only if nobody holds it (``SET NX PX``); ``renew`` extends it only
for the token that holds it; ``release`` deletes it only for that token (both one Lua
script, so a lease that expired and was taken by another process is never touched).
Redis errors leave as :class:`~duanxin.bus.BusError`.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from duanxin.bus import BusError
from duanxin.bus.keys import Keys

__all__ = ["LEASE_SECONDS", "RENEW_SECONDS", "Leases", "new_token"]

LEASE_SECONDS = 15.0  # a dead holder's lease is free again after at most this long
RENEW_SECONDS = 5.0  # how often holders renew (three renewals fit in one lease)

_RENEW = """
local out = {}
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[i], ARGV[2]); out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""

_RELEASE = """
local n = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]); n = n + 1 end
end
return n
"""


def new_token() -> str:
    """A process's owner token: unique across the cluster and its restarts."""
    return secrets.token_hex(12)


class Leases:
    """Lease keys under one deployment prefix, held with one owner token."""

    def __init__(self, url: str, prefix: str, token: str, *, seconds: float = LEASE_SECONDS):
        self.redis = Redis.from_url(url, decode_responses=True)
        self.keys = Keys(prefix)
        self.token = token
        self.ttl_ms = max(1, int(seconds * 1000))
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)

    def key(self, name: str) -> str:
        return f"{self.keys.prefix}lease:{name}"

    async def take(self, name: str) -> bool:
        """Hold ``name`` if nobody does; True if this token holds it now."""
        try:
            taken = await self.redis.set(self.key(name), self.token, nx=True, px=self.ttl_ms)
            if taken:
                return True
            return bool(await self.redis.get(self.key(name)) == self.token)
        except RedisError as exc:
            raise BusError(f"redis lease failed: {exc}") from exc

    async def renew(self, names: Sequence[str]) -> list[bool]:
        """Extend the leases this token holds; False for each one it no longer holds."""
        if not names:
            return []
        try:
            reply = await self._renew(
                keys=[self.key(n) for n in names], args=[self.token, self.ttl_ms]
            )
        except RedisError as exc:
            raise BusError(f"redis lease renewal failed: {exc}") from exc
        return [bool(int(flag)) for flag in reply]

    async def release(self, names: Sequence[str]) -> int:
        """Give up the leases this token holds among ``names``."""
        if not names:
            return 0
        try:
            return int(await self._release(keys=[self.key(n) for n in names], args=[self.token]))
        except RedisError as exc:
            raise BusError(f"redis lease release failed: {exc}") from exc

    async def holders(self, names: Sequence[str]) -> list[str | None]:
        """The token holding each of ``names`` (None: free)."""
        if not names:
            return []
        try:
            values = await self.redis.mget([self.key(n) for n in names])
        except RedisError as exc:
            raise BusError(f"redis lease lookup failed: {exc}") from exc
        return [v if isinstance(v, str) else None for v in values]

    async def close(self) -> None:
        await self.redis.aclose()
