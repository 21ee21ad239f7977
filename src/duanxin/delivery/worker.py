"""The delivery worker: takes accepted messages off the bus and gets them to a carrier.

For each message: the account's channels for the number's carrier, in order; the first that
is up and has a TPS token gets it. A transient outcome (the carrier's flow-control or busy
result, no answer, the link lost) is retried on the same channel after a back-off, while
the channel's rate adapts (:class:`~duanxin.domain.throttle.AdaptiveRate`); after the
channel's ``retry_attempts`` (or ``retry_window``) it fails over to the next channel, and
with none left it ends with the carrier's last result as its report stat
(:func:`~duanxin.domain.status.carrier_stat`).
A permanent refusal ends it at once. Only the segments not yet accepted are sent again.
No channel up: the message goes back to the queue and is tried again later. A message being
retried is held by its delivery task (in the worker's task set), never handed back with a
delay while a channel is up.

Reports and replies coming back are matched and stored by :mod:`duanxin.delivery.records`,
batched through :class:`WriteBehind`, and so are submit results and history events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum, auto
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.bus import BusError, Delivery
from duanxin.cluster.connections import ConnectionLeases
from duanxin.delivery.batch import WriteBehind
from duanxin.delivery.channels import Channel, ChannelPool
from duanxin.delivery.records import (
    ReceivedReply,
    ReceivedReport,
    fail_messages,
    store_reports,
    store_submits,
    write_replies,
)
from duanxin.domain.msgid import format_mid
from duanxin.domain.numbers import national_mobile
from duanxin.domain.reports import LongReport, normalise_carrier_id, route_reply
from duanxin.domain.segments import Reassembler
from duanxin.domain.status import DxStat, carrier_stat
from duanxin.domain.throttle import retry_delay
from duanxin.metrics import (
    REPLIES_RECEIVED,
    REPORTS_RECEIVED,
    SUBMITS,
    SUBMITS_RETRIED,
    SUBMITS_THROTTLED,
)
from duanxin.protocols.carrier import (
    NO_RESPONSE,
    CarrierMO,
    CarrierReport,
    Inbound,
    LateSubmit,
    OutboundMessage,
    SubmitResult,
)
from duanxin.protocols.core.aio import ResponseTimeout, SessionClosed
from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.sequence import Backoff
from duanxin.service.platform import (
    ENTRY_MIDS,
    SUBMIT_GROUP,
    SUBMIT_STREAM,
    ChannelLive,
    Platform,
    submit_entries,
)
from duanxin.store import messages as message_store
from duanxin.store.messages import EventKind, MessageEvent, PendingMessage, Submitted

__all__ = ["DeliveryWorker", "StartupError"]

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 4096
# Submit-stream entries (of up to 50 messages) per read: few, so that the workers of a
# cluster share a burst instead of the first reader taking it all.
READ_ENTRIES = 4
# One-number sends publish an entry each: reads go on (without waiting) until they hold as
# many messages as READ_ENTRIES full entries, so that one claim transaction takes them all
# (a claim per four messages cost more than the messages' own statements).
READ_MIDS = READ_ENTRIES * ENTRY_MIDS
CLAIM_LEASE = timedelta(minutes=10)  # a claim older than this belongs to a dead worker
LINK_WAIT_SECONDS = 3.0  # how long a message waits for a link that is down before requeueing
LINK_POLL_SECONDS = 0.05
ROUTE_MISS_RELOAD_SECONDS = 1.0  # the most often a message without a route reloads them
BUS_RETRY_MAX_SECONDS = 10.0  # the longest pause between reads while they keep failing
BUS_RETRY_SECONDS = 0.5  # pause after a failed read of the bus (or claim) before the next
# Stream entries read by a worker that died before acknowledging them are taken over by
# another (XAUTOCLAIM) once idle this long; looked for every RECLAIM_EVERY seconds.
RECLAIM_IDLE_SECONDS = 15.0
RECLAIM_EVERY_SECONDS = 5.0


class StartupError(Exception):
    """The worker cannot start (a listener port taken, say); the message is one line."""


class _Verdict(Enum):
    DONE = auto()  # every segment accepted
    TRANSIENT = auto()  # throttled, busy, unanswered or link lost: try again
    PERMANENT = auto()  # refused for good


@dataclass(slots=True)
class _Job:
    """One message on its way: what is accepted, what the carriers last said."""

    message: PendingMessage
    done: set[int]  # segment numbers a carrier accepted
    tries: dict[int, int] = field(default_factory=dict)  # transient outcomes per channel
    carrier_stat: str | None = None  # the carrier's last refusal, as a report stat
    platform_stat: str | None = None  # DX:0101 / DX:0102 when the carrier said nothing
    eventful: bool = False  # something worth the message's history happened
    since: float = 0.0  # loop time of the first transient outcome on the current channel
    total: int = 0  # segments as the carrier client split them (0: not known yet)

    @property
    def complete(self) -> bool:
        return len(self.done) >= (self.total or self.message.segments)

    @property
    def final_stat(self) -> str:
        return self.carrier_stat or self.platform_stat or DxStat.NO_CHANNEL.value

    def pending(self) -> frozenset[int] | None:
        """The segment numbers still to send; None: all of them (nothing accepted yet)."""
        if not self.done:
            return None
        return frozenset(range(1, (self.total or self.message.segments) + 1)) - self.done


class DeliveryWorker:
    """Submits messages, records results, routes reports and replies."""

    def __init__(
        self,
        platform: Platform,
        consumer: str = "worker-1",
        leases: ConnectionLeases | None = None,
    ) -> None:
        self.platform = platform
        self.consumer = consumer
        self.pool = ChannelPool(self._on_inbound, leases=leases, buckets=platform.buckets)
        self._reclaimed_at = 0.0
        self._reloaded_at = float("-inf")  # time.monotonic() of the last reload
        self._reloading = asyncio.Lock()
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._tasks: dict[asyncio.Task[Any], str] = {}  # delivery task -> its message
        self._claimed: set[str] = set()  # claims held by this worker, given back at stop
        self._on_wire: dict[str, int] = {}  # messages with a submit awaiting its response
        self._stopping = asyncio.Event()
        # Claims, submit results, history events and reports: one transaction per batch.
        self._writes: WriteBehind[_Write] = WriteBehind(self._write, kind=_kind)
        self._replies: WriteBehind[ReceivedReply] = WriteBehind(self._write_replies)
        self._failures: WriteBehind[tuple[str, str]] = WriteBehind(self._write_failures)
        self._retries: WriteBehind[str] = WriteBehind(self._write_retries)
        self._handovers: WriteBehind[str] = WriteBehind(self._write_handovers)
        self._reassembler = Reassembler(timeout=platform.settings.mo_merge_seconds)
        self._active: dict[str, _Job] = {}  # messages being sent, for late submit answers
        self._resumed: dict[str, set[int]] = {}  # claimed again: segments already accepted
        self._runner: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Connect the channels (this worker's leased slots in a cluster) and start taking
        work; :class:`StartupError` if a channel cannot be opened (its listener port)."""
        try:
            async with self.platform.engine.connect() as conn:
                await self.pool.load(conn)
        except OSError as error:
            await self.pool.close()
            raise StartupError(f"cannot open the carrier channels: {error}") from None
        self.pool.start_leasing()
        # Up: logged in here, or (in a cluster) connected by another worker.
        self.platform.channel_states = lambda: {
            c.name: c.is_up or c.elsewhere for c in self.pool.channels.values()
        }
        self.platform.channel_live = lambda: {c.name: _live(c) for c in self.pool.channels.values()}
        for batcher in self._batchers:
            batcher.start()
        self._stopping.clear()
        self._runner = asyncio.get_running_loop().create_task(self._consume())

    @property
    def _batchers(self) -> tuple[WriteBehind[Any], ...]:
        return (
            self._writes,
            self._replies,
            self._failures,
            self._retries,
            self._handovers,
        )

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
            await self.platform.bus.publish(SUBMIT_STREAM, submit_entries(released))
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
        self._reloaded_at = time.monotonic()
        async with self.platform.engine.connect() as conn:
            await self.pool.load(conn)

    async def _route(self, message: PendingMessage) -> Sequence[Channel]:
        """The message's channels; with none, routes are read again first (at most once per
        ``ROUTE_MISS_RELOAD_SECONDS``, one read shared by concurrent misses): a route an
        operator has just added serves the next message, not one after the next sweep."""
        channels = self.pool.route(message.account_id, message.carrier)
        if channels:
            return channels
        async with self._reloading:
            if time.monotonic() - self._reloaded_at >= ROUTE_MISS_RELOAD_SECONDS:
                await self.reload()
        return self.pool.route(message.account_id, message.carrier)

    # ------------------------------------------------------------- sending

    async def _consume(self) -> None:
        """Take work until stopped; a failing read or claim is retried with back-off, and
        logged once per outage (and once when work flows again)."""
        backoff = Backoff(initial=BUS_RETRY_SECONDS, maximum=BUS_RETRY_MAX_SECONDS)
        failing = False
        while not self._stopping.is_set():
            try:
                await self._consume_once()
            except Exception as error:
                if not failing:
                    # The bus is down: what it held, and what is accepted meanwhile, is
                    # queued in the store; the sweeper publishes it again once it answers.
                    log.warning("delivery cannot take work, retrying: %r", error)
                failing = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff.next_delay())
            else:
                if failing:
                    log.warning("delivery takes work again")
                    failing = False
                    backoff.reset()

    async def _consume_once(self) -> None:
        deliveries = await self._next_deliveries()
        if deliveries:
            claim = _Claim([m for d in deliveries for m in d.payload.get("mids", [])])
            # With the results and reports waiting to be written: one transaction.
            await self._writes.add(claim, urgent=True)
            pending = claim.pending
            self._claimed.update(message.mid for message in pending)
            await self._start_deliveries(pending)
            await self.platform.bus.ack(SUBMIT_STREAM, SUBMIT_GROUP, [d.id for d in deliveries])

    async def _store_claim(self, conn: AsyncConnection, claim: _Claim) -> None:
        lease = self.platform.clock() + CLAIM_LEASE
        claim.pending = await message_store.claim(conn, claim.mids, lease, self.platform.ids.node)
        again = [m.mid for m in claim.pending if m.attempts > 1]
        if again:  # tried before: some segments may be accepted already
            self._resumed.update(await message_store.accepted_segments(conn, again))

    async def _start_deliveries(self, pending: Sequence[PendingMessage]) -> None:
        loop = asyncio.get_running_loop()
        for message in pending:
            if not await self._slot():
                return  # stopping: stop() gives the remaining claims back
            task = loop.create_task(self._deliver(message))
            self._tasks[task] = message.mid
            task.add_done_callback(self._task_done)

    async def _next_deliveries(self) -> list[Delivery]:
        """The next entries of the submit stream, or none once the worker is stopping;
        every few seconds first those a dead worker read and never acknowledged."""
        now = asyncio.get_running_loop().time()
        if now - self._reclaimed_at >= RECLAIM_EVERY_SECONDS:
            self._reclaimed_at = now
            taken = await self.platform.bus.reclaim(
                SUBMIT_STREAM,
                SUBMIT_GROUP,
                self.consumer,
                min_idle=RECLAIM_IDLE_SECONDS,
                count=64,
            )
            if taken:
                log.warning("took over %d stream entries of a worker gone", len(taken))
                return taken
        consume = asyncio.ensure_future(self._read(block=1.0))
        stopping = asyncio.ensure_future(self._stopping.wait())
        await asyncio.wait((consume, stopping), return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not consume.done():
            # Entries a Redis read hands out as it is cancelled stay pending in the group;
            # their messages are queued in the store, where the sweeper finds them.
            consume.cancel()
            await asyncio.gather(consume, return_exceptions=True)
            return []
        taken = consume.result()
        mids = sum(_mids_in(d) for d in taken)
        more = taken
        while len(more) == READ_ENTRIES and mids < READ_MIDS and not self._stopping.is_set():
            more = await self._read(block=0.0)
            taken.extend(more)
            mids += sum(_mids_in(d) for d in more)
        return taken

    async def _read(self, *, block: float) -> list[Delivery]:
        return await self.platform.bus.consume(
            SUBMIT_STREAM, SUBMIT_GROUP, self.consumer, count=READ_ENTRIES, block=block
        )

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
        job = _Job(message, self._resumed.pop(message.mid, set()))
        self._active[message.mid] = job
        try:
            channels = await self._route(message)
            try:
                await self._run(job, channels)
            except Exception:
                # A bug must not strand the message: claimed by a live worker, nobody
                # would try it again before the claim lease ran out.
                log.exception("delivery of %s failed; given back to the queue", message.mid)
                await self._give_back(job, channels, "delivery failed")
        finally:
            self._active.pop(message.mid, None)

    async def _run(self, job: _Job, channels: Sequence[Channel]) -> None:
        """Try the channels in order until the carrier accepts every segment.

        A transient outcome (throttled, busy, no answer, link lost) retries on the same
        channel after a back-off, up to its ``retry_attempts``, then fails over to the next
        channel; a permanent refusal ends the message at once. No channel up: the message
        goes back to the queue for later (after ``max_submit_attempts`` claims, it fails).
        """
        remaining = list(channels)
        pinned: Channel | None = None  # the channel the last transient outcome came from
        if self._connected_elsewhere(job, channels):
            await self._handovers.add(job.message.mid)
            return
        while not job.complete:
            channel = await self._choose(job, remaining, pinned)
            if channel is None:
                await self._give_back(job, remaining)
                return
            if job.complete:  # a late answer settled it while we waited
                break
            verdict = await self._attempt(job, channel)
            if verdict is _Verdict.DONE:
                return
            if verdict is _Verdict.PERMANENT or self._expired(job):
                await self._fail(job, job.final_stat)
                return
            pinned = await self._back_off(job, channel, remaining)
            if pinned is None and not remaining:
                await self._fail(job, job.final_stat)
                return
        self._submitted_elsewhere(job, channels)

    async def _choose(
        self, job: _Job, remaining: list[Channel], pinned: Channel | None
    ) -> Channel | None:
        """The channel for the next try, its TPS token taken; None: no channel is up."""
        loop = asyncio.get_running_loop()
        while True:
            if pinned is None:
                ready = await self._next_ready(remaining)
                if ready is not None:
                    return ready
                if not remaining or not await self._wait_until_up(remaining, LINK_WAIT_SECONDS):
                    return None
                continue
            if pinned.is_up or await self._wait_until_up([pinned], LINK_WAIT_SECONDS):
                left = job.since + pinned.retry.window - loop.time()
                if left > 0 and await pinned.wait_token(left):
                    return pinned
                reason = f"waited {pinned.retry.window:g}s"
            else:
                reason = "link down"
            remaining.remove(pinned)
            if remaining:
                self._event(job, EventKind.FAILED_OVER, pinned, reason)
            pinned = None

    async def _back_off(
        self, job: _Job, channel: Channel, remaining: list[Channel]
    ) -> Channel | None:
        """After a transient outcome: the channel to try again once the back-off is over,
        or None when its tries are used up (it leaves ``remaining``)."""
        tries = job.tries[channel.id] = job.tries.get(channel.id, 0) + 1
        if tries == 1:
            job.since = asyncio.get_running_loop().time()
        if tries >= channel.retry.attempts:
            remaining.remove(channel)
            if remaining:
                self._event(job, EventKind.FAILED_OVER, channel, f"after {tries} tries")
            return None
        await asyncio.sleep(retry_delay(tries, channel.retry.backoff, channel.retry.backoff_max))
        if not job.complete:
            SUBMITS_RETRIED.labels(channel.name).inc()
            self._event(job, EventKind.RETRIED, channel, f"try {tries + 1}")
        return channel

    async def _attempt(self, job: _Job, channel: Channel) -> _Verdict:
        """One submit of the segments not yet accepted; records what was accepted."""
        message = job.message
        pending = job.pending()
        outbound = OutboundMessage(
            source=channel.access_code + message.extno,
            destination=message.mobile,
            text=message.content,
            reference=int(message.mid, 16) & 0xFF,
            segments=pending,
            tag=message.mid,
        )
        loop = asyncio.get_running_loop()
        sent_at = loop.time()
        client = channel.pick()
        try:
            with self._submitting(message.mid):
                result = await client.submit(outbound)
        except (ResponseTimeout, SessionClosed, OSError, LocalProtocolError) as error:
            if isinstance(error, LocalProtocolError) and client.is_up:
                raise  # the message itself cannot be sent
            # No segment answered; or (LocalProtocolError) the connection was logging out
            # (handed to another worker) while the submit waited for its window: it was
            # never sent, the link is lost to it.
            log.info("channel %s could not take %s: %s", channel.name, message.mid, error)
            silent = isinstance(error, ResponseTimeout)
            job.platform_stat = (DxStat.NO_RESPONSE if silent else DxStat.LINK_LOST).value
            kind = EventKind.NO_RESPONSE if silent else EventKind.LINK_LOST
            self._event(job, kind, channel, str(error))
            channel.rate.throttled(sent_at, loop.time(), explicit=False)
            SUBMITS.labels(channel.name, "retry").inc()
            return _Verdict.TRANSIENT
        now = loop.time()
        if pending is None:
            job.total = len(result.outcomes)
        ids, numbers, permanent, throttled = self._read_outcomes(job, channel, result, now)
        if throttled:
            SUBMITS_THROTTLED.labels(channel.name).inc()
            channel.rate.throttled(sent_at, now)
        elif any(o.status < 0 for o in result.outcomes):  # unanswered, or the link lost
            channel.rate.throttled(sent_at, now, explicit=False)
        complete = job.complete
        if ids:
            self._store_accepted(job, channel, ids, numbers, complete)
        if complete:
            SUBMITS.labels(channel.name, "accepted").inc()
            return _Verdict.DONE
        if permanent:
            SUBMITS.labels(channel.name, "refused").inc()
            log.info("channel %s refused %s: %s", channel.name, message.mid, result.outcomes)
            return _Verdict.PERMANENT
        SUBMITS.labels(channel.name, "retry").inc()
        return _Verdict.TRANSIENT

    def _read_outcomes(
        self, job: _Job, channel: Channel, result: SubmitResult, now: float
    ) -> tuple[list[str], list[int], bool, bool]:
        """Newly accepted ids and their segment numbers; whether any was refused for good,
        and whether any was throttled."""
        protocol, rate = channel.protocol, channel.rate
        ids: list[str] = []
        numbers: list[int] = []
        permanent = throttled = False
        for number, outcome in result.numbered():
            status = outcome.status
            if status == 0:  # kept even for a segment a late answer settled: a second copy
                job.done.add(number)
                ids.append(normalise_carrier_id(protocol, outcome.carrier_id))
                numbers.append(number)
                rate.accepted(now)
                continue
            if status > 0:
                job.carrier_stat = carrier_stat(protocol, status)
            if outcome.throttled:
                throttled = True
                self._event(job, EventKind.THROTTLED, channel, job.carrier_stat or "")
            elif outcome.retryable:
                silent = status == NO_RESPONSE
                job.platform_stat = (DxStat.NO_RESPONSE if silent else DxStat.LINK_LOST).value
                kind = EventKind.NO_RESPONSE if silent else EventKind.LINK_LOST
                self._event(job, kind, channel, f"segment {number}")
            else:
                permanent = True
                self._event(job, EventKind.REFUSED, channel, job.carrier_stat or str(status))
        return ids, numbers, permanent, throttled

    def _store_accepted(
        self,
        job: _Job,
        channel: Channel,
        ids: Sequence[str],
        numbers: Sequence[int],
        complete: bool,
    ) -> None:
        message = job.message
        submitted = Submitted(
            message.mid,
            channel.id,
            channel.access_code + message.extno,
            tuple(ids),
            tuple(numbers),
            complete,
        )
        self._writes.add((submitted, channel.protocol, channel.long_report))
        if complete and job.eventful:
            self._event(job, EventKind.SUBMITTED, channel, f"{len(job.done)} segments")

    def _submitted_elsewhere(self, job: _Job, channels: Sequence[Channel]) -> None:
        """Every segment was accepted without this task's last submit (a late answer, or
        a claim whose segments were all stored before): mark the message submitted."""
        if not channels:
            return
        channel = channels[0]
        submitted = Submitted(
            job.message.mid, channel.id, channel.access_code + job.message.extno, (), (), True
        )
        self._writes.add((submitted, channel.protocol, channel.long_report))

    @staticmethod
    def _connected_elsewhere(job: _Job, channels: Sequence[Channel]) -> bool:
        """Whether the message's channels are all connected on other workers only (and
        nothing of it is accepted yet): then it goes to them instead of waiting here."""
        return (
            not job.done
            and bool(channels)
            and all(not c.held for c in channels)
            and any(c.elsewhere for c in channels)
        )

    def _expired(self, job: _Job) -> bool:
        validity = timedelta(seconds=self.platform.settings.submit_validity_seconds)
        return self.platform.clock() - job.message.created_at > validity

    async def _give_back(
        self, job: _Job, channels: Sequence[Channel], reason: str = "no channel up"
    ) -> None:
        """No channel up (or ``reason``): back to the queue, or the end after too many
        claims."""
        if job.message.attempts >= self.platform.settings.max_submit_attempts or not channels:
            await self._fail(job, job.final_stat)
            return
        if job.eventful:
            self._event(job, EventKind.REQUEUED, None, reason)
        await self._retries.add(job.message.mid)

    async def _fail(self, job: _Job, stat: str) -> None:
        self._event(job, EventKind.FAILED, None, stat)
        await self._failures.add((job.message.mid, stat))

    def _event(self, job: _Job, kind: EventKind, channel: Channel | None, detail: str) -> None:
        job.eventful = True
        event = MessageEvent(
            job.message.mid,
            self.platform.clock(),
            kind.value,
            None if channel is None else channel.id,
            detail,
        )
        self._writes.add(event)

    @staticmethod
    async def _wait_until_up(channels: Sequence[Channel], timeout: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while channels and loop.time() < deadline:
            if any(c.is_up for c in channels):
                return True
            await asyncio.sleep(LINK_POLL_SECONDS)
        return False

    async def _next_ready(self, channels: Sequence[Channel]) -> Channel | None:
        """The first up channel with a TPS token, its token taken; when every one is at its
        rate, the one whose turn comes first, once it comes. None: no channel is up."""
        up = [c for c in channels if c.is_up]
        if not up:
            return None
        now = asyncio.get_running_loop().time()
        for channel in up:
            if channel.take_token(now):
                return channel
        best = min(up, key=lambda c: c.expected_wait(now))
        await best.wait_token()
        return best

    # ------------------------------------------------------------- inbound

    def _on_inbound(self, channel: Channel, inbound: Inbound) -> asyncio.Future[None] | None:
        now = self.platform.clock()
        if isinstance(inbound, LateSubmit):
            return self._on_late_submit(channel, inbound)
        if isinstance(inbound, CarrierReport):
            REPORTS_RECEIVED.labels(channel.name).inc()
            return self._writes.add(
                ReceivedReport(
                    channel.id,
                    channel.protocol,
                    channel.long_report,
                    inbound.carrier_id,
                    inbound.destination,
                    inbound.stat,
                    now,
                    inbound.done_time,
                )
            )
        return self._on_reply(channel, inbound, now)

    def _on_late_submit(self, channel: Channel, late: LateSubmit) -> asyncio.Future[None] | None:
        """Keep what a late or repeated submit response says: the carrier holds that copy.

        An accepted one's id is stored with the segment (so its report matches); it
        settles the segment if the message is still being sent.
        """
        mid = late.tag
        if not isinstance(mid, str):
            return None
        outcome = late.outcome
        job = self._active.get(mid)
        stat = "accepted" if outcome.status == 0 else carrier_stat(channel.protocol, outcome.status)
        event = MessageEvent(
            mid,
            self.platform.clock(),
            EventKind.LATE_RESPONSE.value,
            channel.id,
            f"segment {late.number} {stat}",
        )
        self._writes.add(event)
        if outcome.status != 0:
            return None
        complete = False
        if job is not None:
            job.eventful = True
            if late.number not in job.done:
                job.done.add(late.number)
                complete = job.complete
        extno = job.message.extno if job is not None else ""
        submitted = Submitted(
            mid,
            channel.id,
            channel.access_code + extno,
            (normalise_carrier_id(channel.protocol, outcome.carrier_id),),
            (late.number,),
            complete,
        )
        return self._writes.add((submitted, channel.protocol, channel.long_report))

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
        mobile = national_mobile(source)
        return self._replies.add(ReceivedReply(account_id, mid, mobile, destination, text, now))

    def flush_expired_replies(self) -> None:
        """Store long replies whose missing parts did not come in time, as received."""
        now = self.platform.clock()
        for key, text in self._reassembler.expire(asyncio.get_running_loop().time()):
            assert isinstance(key, tuple)
            _channel_id, source, destination = key
            self._store_reply(str(source), str(destination), text, now)

    # -------------------------------------------------------------- writes

    async def _write(self, items: Sequence[_Write]) -> None:
        """Claims, then submit results and history events, then reports (a report finds
        the carrier ids stored before it): one transaction, its channels locked first."""
        claims: list[_Claim] = []
        done: list[_Accepted] = []
        events: list[MessageEvent] = []
        reports: list[ReceivedReport] = []
        for item in items:
            if isinstance(item, tuple):
                done.append(item)
            elif isinstance(item, ReceivedReport):
                reports.append(item)
            elif isinstance(item, MessageEvent):
                events.append(item)
            else:
                claims.append(item)
        now = self.platform.clock()
        async with self.platform.engine.begin() as conn:
            channel_ids = {s.channel_id for s, _, _ in done}
            channel_ids.update(r.channel_id for r in reports)
            await message_store.lock_channels_for_matching(conn, channel_ids)
            for claim in claims:
                await self._store_claim(conn, claim)
            if done or events:
                await store_submits(conn, done, now, events)
            if reports:
                await store_reports(conn, reports, now)

    async def _write_replies(self, items: Sequence[ReceivedReply]) -> None:
        await write_replies(self.platform.engine, items)

    async def _write_failures(self, items: Sequence[tuple[str, str]]) -> None:
        await fail_messages(self.platform.engine, items, self.platform.clock())

    async def _write_handovers(self, mids: Sequence[str]) -> None:
        async with self.platform.engine.begin() as conn:
            handed = await message_store.hand_over(conn, mids)
        self._claimed.difference_update(handed)
        if handed:
            try:
                await self.platform.bus.publish(SUBMIT_STREAM, submit_entries(handed))
            except BusError as error:  # queued and due: a sweeper publishes them
                log.warning("could not hand %d messages over: %s", len(handed), error)

    async def _write_retries(self, mids: Sequence[str]) -> None:
        retry_at = self.platform.clock() + timedelta(
            seconds=self.platform.settings.channel_retry_seconds
        )
        async with self.platform.engine.begin() as conn:
            await message_store.requeue(conn, mids, retry_at)


@dataclass(slots=True)
class _Claim:
    """Messages to claim off the submit stream's entries; ``pending``: those claimed."""

    mids: list[str]
    pending: list[PendingMessage] = field(default_factory=list)


_Accepted = tuple[Submitted, str, LongReport]  # with the channel's protocol and report policy
_Write = _Claim | _Accepted | MessageEvent | ReceivedReport


def _kind(item: _Write) -> type:
    """Submit results and their history events are one kind (written together)."""
    return MessageEvent if isinstance(item, tuple) else type(item)


def _mids_in(delivery: Delivery) -> int:
    mids = delivery.payload.get("mids")
    return len(mids) if isinstance(mids, list) else 0


def _live(channel: Channel) -> ChannelLive:
    rate = channel.rate.rate
    ceiling = channel.rate.ceiling
    return ChannelLive(
        up=channel.is_up,
        connections_up=sum(1 for client in channel.clients if client.is_up),
        connections=len(channel.clients),
        in_flight=sum(int(getattr(client, "in_flight", 0)) for client in channel.clients),
        rate=rate,
        throttling=rate is not None and (ceiling is None or rate < ceiling),
    )
