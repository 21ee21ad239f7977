"""Periodic chores: due and orphaned messages, overdue reports, stale parts and keys."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from duanxin.bus import BusError
from duanxin.cluster.leases import RENEW_SECONDS
from duanxin.cluster.node import NodeLease
from duanxin.delivery.records import fail_messages
from duanxin.delivery.worker import DeliveryWorker
from duanxin.domain.status import DxStat
from duanxin.service.platform import SUBMIT_STREAM, Platform, submit_entries
from duanxin.store import idempotency as idempotency_store
from duanxin.store import messages as message_store

__all__ = ["Sweeper"]

log = logging.getLogger(__name__)
PUBLISH_GRACE = timedelta(seconds=10)  # a fresh message's own bus entry should be claimed by then
LEASE = timedelta(seconds=30)
BATCH = 2000
RELOAD_EVERY = 5  # sweeps between reloads of channels and routes
# A node whose lease is missing this long is gone (not a Redis restart its holder has not
# noticed yet: holders take their lease again within one renewal).
NODE_GONE_SECONDS = 2 * RENEW_SECONDS


class Sweeper:
    """Runs :meth:`sweep` every ``settings.sweep_interval_seconds``."""

    def __init__(
        self, platform: Platform, worker: DeliveryWorker | None, node: NodeLease | None = None
    ) -> None:
        self.platform = platform
        self.worker = worker
        self.node = node
        self._missing: dict[int, float] = {}  # node id -> loop time first seen without lease
        self._task: asyncio.Task[None] | None = None
        self._sweeps = 0
        self._leases: list[tuple[datetime, list[str]]] = []  # (until, mids) published
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._stopping.clear()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Let a sweep under way finish (its leases are then known), run no more."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sweep()
            except BusError as error:
                log.warning("sweep: the bus is unreachable: %s", error)
            except Exception:
                log.exception("sweep failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._stopping.wait(), self.platform.settings.sweep_interval_seconds
                )

    async def sweep(self) -> None:
        """One round of every chore."""
        self._sweeps += 1
        await self.release_gone_nodes()
        await self.publish_due()
        await self.expire_reports()
        await self.drop_stale()
        if self.worker is not None:
            self.worker.flush_expired_replies()
            if self._sweeps % RELOAD_EVERY == 0:
                await self.worker.reload()

    async def publish_due(self, *, created_before_now: bool = False) -> int:
        """Hand scheduled, retried and orphaned queued messages to the delivery workers.

        Messages a send could not publish (the bus was down) go first, as soon as the bus
        answers again; if publishing fails, the leases just taken are undone, so nothing
        waits a lease out for a bus that was not there.
        """
        await self._publish_unpublished()
        now = self.platform.clock()
        created_before = now + timedelta(seconds=1) if created_before_now else now - PUBLISH_GRACE
        lease_until = now + LEASE
        async with self.platform.engine.begin() as conn:
            released = await message_store.release_stale_claims(conn, now)
            if released:
                log.warning(
                    "%d messages claimed by a worker that stopped are queued again", released
                )
            mids = await message_store.lease_due(
                conn, now, created_before=created_before, lease_until=lease_until, limit=BATCH
            )
        if mids:
            try:
                await self.platform.bus.publish(SUBMIT_STREAM, submit_entries(mids))
            except BusError:
                async with self.platform.engine.begin() as conn:
                    await message_store.release_leases(conn, mids, lease_until)
                raise
            self._leases = [(u, m) for u, m in self._leases if u > now]
            self._leases.append((lease_until, mids))
        return len(mids)

    async def release_gone_nodes(self) -> int:
        """Cluster: give back at once the claims of workers whose node lease is gone (killed,
        or cut off), instead of waiting out the claim lease, and publish them."""
        if self.node is None:
            return 0
        async with self.platform.engine.connect() as conn:
            nodes = await message_store.claiming_nodes(conn)
        alive = await self.node.alive([n for n in nodes if n != self.node.node_id])
        now = asyncio.get_running_loop().time()
        self._missing = {n: self._missing.get(n, now) for n, up in alive.items() if not up}
        gone = [n for n, since in self._missing.items() if now - since >= NODE_GONE_SECONDS]
        if not gone:
            return 0
        async with self.platform.engine.begin() as conn:
            mids = await message_store.release_node_claims(conn, gone)
        for n in gone:
            self._missing.pop(n, None)
        if mids:
            log.warning("%d messages claimed by gone nodes %s are queued again", len(mids), gone)
            await self.platform.bus.publish(SUBMIT_STREAM, submit_entries(mids))
        return len(mids)

    async def release_leases(self) -> int:
        """At stop: undo the leases still running, so that messages published but not yet
        claimed (an in-process bus dies with the process) are due at once after a restart."""
        now = self.platform.clock()
        leases, self._leases = [(u, m) for u, m in self._leases if u > now], []
        released = 0
        if leases:
            async with self.platform.engine.begin() as conn:
                for lease_until, mids in leases:
                    released += await message_store.release_leases(conn, mids, lease_until)
        return released

    async def _publish_unpublished(self) -> None:
        mids = self.platform.take_unpublished()
        if not mids:
            return
        try:
            await self.platform.bus.publish(SUBMIT_STREAM, submit_entries(mids))
        except BusError:
            self.platform.keep_unpublished(mids)
            raise
        log.info("%d messages accepted while the bus was down are published", len(mids))

    async def expire_reports(self) -> None:
        """Messages without a report after the report window end as UNKNOWN."""
        now = self.platform.clock()
        before = now - timedelta(hours=self.platform.settings.report_timeout_hours)
        async with self.platform.engine.connect() as conn:
            mids = await message_store.overdue_submitted(conn, before, BATCH)
        if mids:
            await fail_messages(
                self.platform.engine, [(m, DxStat.UNKNOWN.value) for m in mids], now
            )

    async def drop_stale(self) -> None:
        now = self.platform.clock()
        settings = self.platform.settings
        async with self.platform.engine.begin() as conn:
            await message_store.expire_orphans(
                conn, now - timedelta(minutes=settings.orphan_report_minutes)
            )
            await idempotency_store.expire(conn, now - timedelta(hours=settings.idempotency_hours))

    async def recover(self) -> int:
        """At start-up of the embedded process: give back what the process before had
        claimed, and publish all due work at once (not only the first batch)."""
        async with self.platform.engine.begin() as conn:
            reset = await message_store.reset_claimed(conn)
        if reset:
            log.info("recovered %d messages claimed before a restart", reset)
        published = 0
        while True:
            count = await self.publish_due(created_before_now=True)
            published += count
            if count < BATCH:
                return published
