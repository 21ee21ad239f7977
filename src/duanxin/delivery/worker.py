"""The delivery worker: takes accepted messages off the bus and gets them to a carrier.

For each message: the account's channels for the number's carrier, in order; the first that
is up and has a TPS token gets it; a refusal or a dropped link moves on to the next
(failover). No channel up: the message waits and is tried again; every channel refused:
it ends with a ``DX:0100`` report. Reports and replies coming back are matched and stored
by :mod:`duanxin.delivery.records`, batched through :class:`WriteBehind`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from duanxin.bus import BusError, Delivery
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
BUS_RETRY_SECONDS = 0.5  # pause after a failed read of the bus (or claim) before the next


class NoChannelUp(Exception):
    """Every channel for the message is down or throttled: try again later."""


class DeliveryWorker:
    """Submits messages, records results, routes reports and replies."""

    def __init__(self, platform: Platform, consumer: str = "worker-1") -> None:
        self.platform = platform
        self.consumer = consumer
        self.pool = ChannelPool(self._on_inbound)
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks: dict[asyncio.Task[Any], str] = {}  # delivery task -> its message
        self._claimed: set[str] = set()  # claims held by this worker, given back at stop
        self._on_wire: dict[str, int] = {}  # messages with a submit awaiting its response
        self._stopping = asyncio.Event()
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
        self._stopping.clear()
        self._runner = asyncio.get_running_loop().create_task(self._consume())

    @property
    def _batchers(self) -> tuple[WriteBehind[Any], ...]:
        return (self._submits, self._reports, self._replies, self._failures, self._retries)

    async def stop(self, grace: float = 0.0) -> None:
        """Drain: claim nothing more, give submits already on the wire up to ``grace``
        seconds for their responses, store every result, then give back every claim still
        held (queued again, due at once, and republished for the other workers)."""
        self._stopping.set()
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
            self._runner = None
        for task, mid in list(self._tasks.items()):
            if mid not in self._on_wire:
                task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=max(grace, 0.0))
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        # Results so far stored (and the reports and replies answered), the links closed,
        # then what came in meanwhile stored too.
        for batcher in self._batchers:
            await batcher.flush()
        await self.pool.close()
        for batcher in self._batchers:
            await batcher.stop()
        await self._release_claims()

    async def _release_claims(self) -> None:
        mids = list(self._claimed)
        if not mids:
            return
        async with self.platform.engine.begin() as conn:
            released = await message_store.release_claims(conn, mids)
        self._claimed.clear()
        if not released:
            return
        log.warning("%d claimed messages given back at stop, due at once", len(released))
        try:
            await self.platform.bus.publish(SUBMIT_STREAM, [{"mids": released}])
        except BusError as error:  # the sweeper's recovery finds them in the store
            log.warning("could not republish released messages: %s", error)

    @contextlib.contextmanager
    def _submitting(self, mid: str) -> Iterator[None]:
        """Wrap the wait for a carrier's submit response: a stopping worker waits (up to its
        grace) for the submits on the wire, and lets no new one start."""
        if self._stopping.is_set():
            raise asyncio.CancelledError  # the claim is given back by stop()
        self._on_wire[mid] = self._on_wire.get(mid, 0) + 1
        try:
            yield
        finally:
            remaining = self._on_wire.pop(mid) - 1
            if remaining:
                self._on_wire[mid] = remaining

    async def reload(self) -> None:
        """Pick up channels and routes added since start."""
        async with self.platform.engine.connect() as conn:
            await self.pool.load(conn)

    # ------------------------------------------------------------- sending

    async def _consume(self) -> None:
        while not self._stopping.is_set():
            try:
                await self._consume_once()
            except BusError as error:
                # The bus is down: what it held, and what is accepted meanwhile, is queued
                # in the store; the sweeper publishes it again once the bus answers.
                log.warning("delivery cannot read the bus: %s", error)
            except Exception:
                log.exception("delivery could not take work")
            else:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), BUS_RETRY_SECONDS)

    async def _consume_once(self) -> None:
        deliveries = await self._next_deliveries()
        if deliveries:
            mids = [m for d in deliveries for m in d.payload.get("mids", [])]
            async with self.platform.engine.begin() as conn:
                lease = self.platform.clock() + CLAIM_LEASE
                pending = await message_store.claim(conn, mids, lease)
            self._claimed.update(message.mid for message in pending)
            await self._start_deliveries(pending)
            await self.platform.bus.ack(SUBMIT_STREAM, SUBMIT_GROUP, [d.id for d in deliveries])

    async def _start_deliveries(self, pending: Sequence[PendingMessage]) -> None:
        loop = asyncio.get_running_loop()
        for message in pending:
            if not await self._slot():
                return  # stopping: stop() gives the remaining claims back
            task = loop.create_task(self._deliver(message))
            self._tasks[task] = message.mid
            task.add_done_callback(self._task_done)

    async def _next_deliveries(self) -> list[Delivery]:
        """The next entries of the submit stream, or none once the worker is stopping."""
        consume = asyncio.ensure_future(
            self.platform.bus.consume(
                SUBMIT_STREAM, SUBMIT_GROUP, self.consumer, count=64, block=1.0
            )
        )
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait((consume, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not consume.done():
            # Entries a Redis read hands out as it is cancelled stay pending in the group;
            # their messages are queued in the store, where the sweeper finds them.
            consume.cancel()
            await asyncio.gather(consume, return_exceptions=True)
            return []
        return consume.result()

    async def _slot(self) -> bool:
        """Wait for a free delivery slot; False once the worker is stopping."""
        if self._stopping.is_set():
            return False
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once
            return True
        acquire = asyncio.ensure_future(self._slots.acquire())
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait((acquire, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not acquire.done():
            acquire.cancel()
            await asyncio.gather(acquire, return_exceptions=True)
            if acquire.cancelled():
                return False
        if self._stopping.is_set():
            self._slots.release()
            return False
        return True

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        mid = self._tasks.pop(task, None)
        self._slots.release()
        if task.cancelled():
            return  # stop() gives the claim back
        if mid is not None:
            self._claimed.discard(mid)
        if task.exception() is not None:
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
                with self._submitting(message.mid):
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
