"""Periodic chores: due and orphaned messages, overdue reports, stale parts and keys."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import delete

from duanxin.delivery.records import fail_messages
from duanxin.delivery.worker import DeliveryWorker
from duanxin.domain.status import DxStat
from duanxin.service.platform import SUBMIT_STREAM, Platform
from duanxin.store import messages as message_store
from duanxin.store.tables import idempotency

__all__ = ["Sweeper"]

log = logging.getLogger(__name__)
PUBLISH_GRACE = timedelta(seconds=10)  # a fresh message's own bus entry should be claimed by then
LEASE = timedelta(seconds=30)
BATCH = 2000
RELOAD_EVERY = 5  # sweeps between reloads of channels and routes


class Sweeper:
    """Runs :meth:`sweep` every ``settings.sweep_interval_seconds``."""

    def __init__(self, platform: Platform, worker: DeliveryWorker | None) -> None:
        self.platform = platform
        self.worker = worker
        self._task: asyncio.Task[None] | None = None
        self._sweeps = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception:
                log.exception("sweep failed")
            await asyncio.sleep(self.platform.settings.sweep_interval_seconds)

    async def sweep(self) -> None:
        """One round of every chore."""
        self._sweeps += 1
        await self.publish_due()
        await self.expire_reports()
        await self.drop_stale()
        if self.worker is not None:
            self.worker.flush_expired_replies()
            if self._sweeps % RELOAD_EVERY == 0:
                await self.worker.reload()

    async def publish_due(self, *, created_before_now: bool = False) -> int:
        """Hand scheduled, retried and orphaned queued messages to the delivery workers."""
        now = self.platform.clock()
        created_before = now + timedelta(seconds=1) if created_before_now else now - PUBLISH_GRACE
        async with self.platform.engine.begin() as conn:
            released = await message_store.release_stale_claims(conn, now)
            if released:
                log.warning(
                    "%d messages claimed by a worker that stopped are queued again", released
                )
            mids = await message_store.lease_due(
                conn, now, created_before=created_before, lease_until=now + LEASE, limit=BATCH
            )
        if mids:
            await self.platform.bus.publish(SUBMIT_STREAM, [{"mids": mids}])
        return len(mids)

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
            await conn.execute(
                delete(idempotency).where(
                    idempotency.c.created_at < now - timedelta(hours=settings.idempotency_hours)
                )
            )

    async def recover(self) -> int:
        """At start-up: give back what a dead process had claimed, and publish all due work."""
        async with self.platform.engine.begin() as conn:
            reset = await message_store.reset_claimed(conn)
        if reset:
            log.info("recovered %d messages claimed before a restart", reset)
        return await self.publish_due(created_before_now=True)
