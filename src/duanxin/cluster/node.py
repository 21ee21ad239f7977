"""Node ids without configuration: each process leases one in Redis for its message ids.

Message ids carry a 22-bit node id (:mod:`duanxin.domain.msgid`), so two processes minting
with one node id could mint the same id. A process of a cluster takes the lease
``node:<id>`` for its lifetime (renewed every few seconds, released on stop): the first
free id after a shared counter, or the configured ``DUANXIN_NODE_ID``, which a process
refuses to start with when a live process holds it. A lease lost while running (Redis
restarted empty) is taken again; if another process took the id meanwhile, this one
moves on to a free id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from duanxin.bus import BusError
from duanxin.cluster.leases import RENEW_SECONDS, Leases
from duanxin.domain.msgid import MAX_NODE

__all__ = ["NodeIdTaken", "NodeLease", "node_name"]

log = logging.getLogger(__name__)
COUNTER = "node:next"


class NodeIdTaken(Exception):
    """The configured node id is held by a live process."""


def node_name(node_id: int) -> str:
    return f"node:{node_id}"


class NodeLease:
    """This process's node id, held in Redis while the process runs."""

    def __init__(self, leases: Leases, on_change: Callable[[int], None] | None = None) -> None:
        self.leases = leases
        self.node_id = 0
        self.on_change = on_change
        self._task: asyncio.Task[None] | None = None

    async def take(self, wanted: int | None) -> int:
        """Hold ``wanted`` (:class:`NodeIdTaken` if a live process does), or the first free
        id after the shared counter."""
        if wanted is not None:
            if not await self.leases.take(node_name(wanted)):
                raise NodeIdTaken(
                    f"node id {wanted} (DUANXIN_NODE_ID) is held by another running process; "
                    "unset it to get a free one"
                )
            self.node_id = wanted
            return wanted
        self.node_id = await self._take_free()
        return self.node_id

    async def _take_free(self) -> int:
        try:
            start = int(await self.leases.redis.incr(self.leases.keys.prefix + COUNTER))
        except Exception as exc:  # redis errors: the same one-line reason as a lease
            raise BusError(f"redis node counter failed: {exc}") from exc
        for step in range(MAX_NODE):
            candidate = 1 + (start + step - 1) % MAX_NODE
            if await self.leases.take(node_name(candidate)):
                return candidate
        raise BusError("every node id is taken")  # 4 million live processes

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._renew_forever())

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                await self.renew()
            except BusError as error:
                log.warning("node id %d: lease not renewed: %s", self.node_id, error)

    async def renew(self) -> None:
        """Extend the lease; take it again if it was lost, or a free id if it was taken."""
        name = node_name(self.node_id)
        [held] = await self.leases.renew([name])
        if held or await self.leases.take(name):
            return
        old = self.node_id
        self.node_id = await self._take_free()
        log.error("node id %d was taken by another process; now minting as %d", old, self.node_id)
        if self.on_change is not None:
            self.on_change(self.node_id)

    async def alive(self, node_ids: list[int]) -> dict[int, bool]:
        """Whether a live process holds each of ``node_ids``."""
        holders = await self.leases.holders([node_name(n) for n in node_ids])
        return {n: h is not None for n, h in zip(node_ids, holders, strict=True)}

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(BusError):
            await self.leases.release([node_name(self.node_id)])
