"""The delivery worker: takes accepted messages off the bus and gets them to a carrier.

For each message: the account's channels for the number's carrier, in order; the first that
is up and has a TPS token gets it; a refusal or a dropped link moves on to the next
(failover). No channel up: the message waits and is tried again; every channel refused:
it ends with a ``DX:0100`` report. Reports and replies coming back are matched and stored
by :mod:`duanxin.delivery.records`, batched through :class:`WriteBehind`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from duanxin.delivery.batch import WriteBehind
from duanxin.delivery.channels import Channel, ChannelPool
from duanxin.delivery.records import (
    ReceivedReply,
    ReceivedReport,
    fail_messages,
    write_replies,
    write_reports,
    write_submits,
)
from duanxin.domain.msgid import format_mid
from duanxin.domain.reports import LongReport, normalise_carrier_id, route_reply
from duanxin.domain.segments import Reassembler
from duanxin.domain.status import DxStat
from duanxin.metrics import REPLIES_RECEIVED, REPORTS_RECEIVED, SUBMITS
from duanxin.protocols.carrier import CarrierMO, CarrierReport, Inbound, OutboundMessage
from duanxin.protocols.core.aio import ResponseTimeout, SessionClosed
from duanxin.service.platform import SUBMIT_GROUP, SUBMIT_STREAM, Platform
from duanxin.store import messages as message_store
from duanxin.store.messages import PendingMessage, Submitted

__all__ = ["DeliveryWorker"]

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 4096
CLAIM_LEASE = timedelta(minutes=10)  # a claim older than this belongs to a dead worker
LINK_WAIT_SECONDS = 3.0  # how long a message waits for a link that is down before requeueing
LINK_POLL_SECONDS = 0.05


class NoChannelUp(Exception):
    """Every channel for the message is down or throttled: try again later."""


class DeliveryWorker:
    """Submits messages, records results, routes reports and replies."""

    def __init__(self, platform: Platform, consumer: str = "worker-1") -> None:
        self.platform = platform
        self.consumer = consumer
        self.pool = ChannelPool(self._on_inbound)
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._submits: WriteBehind[tuple[Submitted, str, LongReport]] = WriteBehind(
            self._write_submits
        )
        self._reports: WriteBehind[ReceivedReport] = WriteBehind(self._write_reports)
        self._replies: WriteBehind[ReceivedReply] = WriteBehind(self._write_replies)
        self._failures: WriteBehind[tuple[str, str]] = WriteBehind(self._write_failures)
        self._retries: WriteBehind[str] = WriteBehind(self._write_retries)
        self._reassembler = Reassembler(timeout=platform.settings.mo_merge_seconds)
        self._runner: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        async with self.platform.engine.connect() as conn:
            await self.pool.load(conn)
        self.platform.channel_states = lambda: {
            c.name: c.is_up for c in self.pool.channels.values()
        }
        for batcher in self._batchers:
            batcher.start()
        self._runner = asyncio.get_running_loop().create_task(self._consume())

    @property
    def _batchers(self) -> tuple[WriteBehind[Any], ...]:
        return (self._submits, self._reports, self._replies, self._failures, self._retries)

    async def stop(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        for batcher in self._batchers:
            await batcher.stop()
        await self.pool.close()

    async def reload(self) -> None:
        """Pick up channels and routes added since start."""
        async with self.platform.engine.connect() as conn:
            await self.pool.load(conn)

    # ------------------------------------------------------------- sending

    async def _consume(self) -> None:
        bus = self.platform.bus
        while True:
            deliveries = await bus.consume(
                SUBMIT_STREAM, SUBMIT_GROUP, self.consumer, count=64, block=1.0
            )
            if not deliveries:
                continue
            mids = [m for d in deliveries for m in d.payload.get("mids", [])]
            async with self.platform.engine.begin() as conn:
                lease = self.platform.clock() + CLAIM_LEASE
                pending = await message_store.claim(conn, mids, lease)
            await bus.ack(SUBMIT_STREAM, SUBMIT_GROUP, [d.id for d in deliveries])
            for message in pending:
                await self._slots.acquire()
                task = asyncio.get_running_loop().create_task(self._deliver(message))
                self._tasks.add(task)
                task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("delivery task failed", exc_info=task.exception())

    async def _deliver(self, message: PendingMessage) -> None:
        channels = self.pool.route(message.account_id, message.carrier)
        try:
            await self._try_channels(message, channels)
            return
        except NoChannelUp:
            pass
        # A link may be logging in again (or for the first time, just after start-up).
        if await self._wait_until_up(channels, LINK_WAIT_SECONDS):
            try:
                await self._try_channels(message, channels)
                return
            except NoChannelUp:
                pass
        if message.attempts >= self.platform.settings.max_submit_attempts:
            await self._failures.add((message.mid, DxStat.NO_CHANNEL.value))
        else:
            await self._retries.add(message.mid)

    @staticmethod
    async def _wait_until_up(channels: Sequence[Channel], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while channels and loop.time() < deadline:
            if any(c.is_up for c in channels):
                return True
            await asyncio.sleep(LINK_POLL_SECONDS)
        return False

    async def _try_channels(self, message: PendingMessage, channels: Sequence[Channel]) -> None:
        tried_any = False
        for channel in await self._ready_order(channels):
            tried_any = True
            outbound = OutboundMessage(
                source=channel.access_code + message.extno,
                destination=message.mobile,
                text=message.content,
                reference=int(message.mid, 16) & 0xFF,
            )
            try:
                result = await channel.pick().submit(outbound)
            except (SessionClosed, ResponseTimeout, OSError) as error:
                log.info("channel %s failed for %s: %s", channel.name, message.mid, error)
                continue
            SUBMITS.labels(channel.name, "accepted" if result.accepted else "refused").inc()
            if result.accepted:
                ids = tuple(normalise_carrier_id(channel.protocol, c) for c in result.carrier_ids)
                submitted = Submitted(message.mid, channel.id, outbound.source, ids)
                await self._submits.add((submitted, channel.protocol, channel.long_report))
                return
            log.info("channel %s refused %s: %s", channel.name, message.mid, result.outcomes)
        if not tried_any:
            raise NoChannelUp
        await self._failures.add((message.mid, DxStat.NO_CHANNEL.value))

    async def _ready_order(self, channels: Sequence[Channel]) -> list[Channel]:
        """Up channels, the first one with a TPS token first; waits for a token if none has."""
        loop = asyncio.get_running_loop()
        up = [c for c in channels if c.is_up]
        if not up:
            return []
        while True:
            now = loop.time()
            for index, channel in enumerate(up):
                if channel.take_token(now):
                    return [channel, *up[:index], *up[index + 1 :]]
            waits = [c.bucket.wait_time(now) for c in up if c.bucket is not None]
            await asyncio.sleep(max(0.001, min(waits)))

    # ------------------------------------------------------------- inbound

    def _on_inbound(self, channel: Channel, inbound: Inbound) -> asyncio.Future[None] | None:
        now = self.platform.clock()
        if isinstance(inbound, CarrierReport):
            REPORTS_RECEIVED.labels(channel.name).inc()
            return self._reports.add(
                ReceivedReport(
                    channel.id,
                    channel.protocol,
                    channel.long_report,
                    inbound.carrier_id,
                    inbound.destination,
                    inbound.stat,
                    now,
                )
            )
        return self._on_reply(channel, inbound, now)

    def _on_reply(
        self, channel: Channel, reply: CarrierMO, now: datetime
    ) -> asyncio.Future[None] | None:
        text: str | None = reply.text
        if reply.concat is not None and reply.concat.total > 1:
            key = (channel.id, reply.source, reply.destination)
            text = self._reassembler.add(
                key, reply.concat, reply.text, asyncio.get_running_loop().time()
            )
        if text is None:
            return None
        REPLIES_RECEIVED.inc()
        return self._store_reply(reply.source, reply.destination, text, now)

    def _store_reply(
        self, source: str, destination: str, text: str, now: datetime
    ) -> asyncio.Future[None] | None:
        account_id = route_reply(destination, self.pool.reply_prefixes)
        if account_id is None:
            log.warning("reply to %s matches no account; dropped", destination)
            return None
        mid = format_mid(self.platform.ids.next_id(now))
        mobile = source[-11:] if len(source) > 11 and source.startswith("86") else source
        return self._replies.add(ReceivedReply(account_id, mid, mobile, destination, text, now))

    def flush_expired_replies(self) -> None:
        """Store long replies whose missing parts did not come in time, as received."""
        now = self.platform.clock()
        for key, text in self._reassembler.expire(asyncio.get_running_loop().time()):
            assert isinstance(key, tuple)
            _channel_id, source, destination = key
            self._store_reply(str(source), str(destination), text, now)

    # -------------------------------------------------------------- writes

    async def _write_submits(self, items: Sequence[tuple[Submitted, str, LongReport]]) -> None:
        await write_submits(self.platform.engine, items, self.platform.clock())

    async def _write_reports(self, items: Sequence[ReceivedReport]) -> None:
        await write_reports(self.platform.engine, items, self.platform.clock())

    async def _write_replies(self, items: Sequence[ReceivedReply]) -> None:
        await write_replies(self.platform.engine, items)

    async def _write_failures(self, items: Sequence[tuple[str, str]]) -> None:
        await fail_messages(self.platform.engine, items, self.platform.clock())

    async def _write_retries(self, mids: Sequence[str]) -> None:
        retry_at = self.platform.clock() + timedelta(
            seconds=self.platform.settings.channel_retry_seconds
        )
        async with self.platform.engine.begin() as conn:
            await message_store.requeue(conn, mids, retry_at)
