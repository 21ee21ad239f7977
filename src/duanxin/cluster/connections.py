"""Carrier-connection leases: a channel's ``max_connections`` holds across the cluster.

Each connection of a channel is a slot, leased as ``conn:<channel>:<slot>`` by the worker
that opens it (SGIP channels have one slot: its holder alone binds the listener port the
gateway connects back to, so no two workers ever bind it). A worker takes at most its fair
share of a channel's slots (``ceil(slots / live workers)``; live workers renew a member
entry in ``workers``), renews what it holds every few seconds and takes free slots at each
round, so a dead worker's connections are opened elsewhere within one lease expiry; a
worker holding more than its share (it started first) gives the extra slots back.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from redis.exceptions import RedisError

from duanxin.bus import BusError
from duanxin.cluster.leases import Leases

__all__ = ["ConnectionLeases", "SlotPlan"]


def slot_name(channel_id: int, slot: int) -> str:
    return f"conn:{channel_id}:{slot}"


@dataclass(frozen=True, slots=True)
class SlotPlan:
    """One round's outcome for a channel: the slots held here, and whether another worker
    holds any (then a message this worker cannot send goes to that one)."""

    held: frozenset[int]
    elsewhere: bool


class ConnectionLeases:
    """The slots this worker holds, per channel."""

    def __init__(self, leases: Leases, member: str) -> None:
        self.leases = leases
        self.member = member
        self._held: dict[int, set[int]] = {}

    @property
    def _workers_key(self) -> str:
        return self.leases.key("workers")

    async def live_workers(self) -> int:
        """Announce this worker and count the live ones (entries renewed within a lease)."""
        now = time.time()
        ttl = self.leases.ttl_ms / 1000
        try:
            async with self.leases.redis.pipeline(transaction=True) as pipe:
                pipe.zadd(self._workers_key, {self.member: now + ttl})
                pipe.zremrangebyscore(self._workers_key, "-inf", now)
                pipe.zcard(self._workers_key)
                replies = await pipe.execute()
        except RedisError as exc:
            raise BusError(f"redis worker registry failed: {exc}") from exc
        return max(1, int(replies[-1]))

    async def plan(self, channel_id: int, slots: int, workers: int) -> SlotPlan:
        """Renew this worker's slots of a channel, take free ones up to its share."""
        names = [slot_name(channel_id, s) for s in range(slots)]
        held = self._held.setdefault(channel_id, set())
        mine = sorted(held)
        kept = await self.leases.renew([names[s] for s in mine])
        for slot, ok in zip(mine, kept, strict=True):
            # Lost (Redis restarted empty): taken back at once unless another took it.
            if not ok and not await self.leases.take(names[slot]):
                held.discard(slot)
        share = math.ceil(slots / workers)
        if len(held) > share:  # more workers now than when these were taken: give back
            extra = sorted(held)[share:]
            await self.leases.release([names[s] for s in extra])
            held.difference_update(extra)
        holders = await self.leases.holders(names)
        for slot, holder in enumerate(holders):
            if len(held) >= share:
                break
            if holder is None and await self.leases.take(names[slot]):
                held.add(slot)
        token = self.leases.token
        elsewhere = any(h is not None and h != token for h in holders)
        return SlotPlan(frozenset(held), elsewhere)

    async def release_all(self) -> None:
        names = [slot_name(c, s) for c, slots in self._held.items() for s in slots]
        self._held.clear()
        await self.leases.release(names)

    async def leave(self) -> None:
        try:
            await self.leases.redis.zrem(self._workers_key, self.member)
        except RedisError as exc:
            raise BusError(f"redis worker registry failed: {exc}") from exc
