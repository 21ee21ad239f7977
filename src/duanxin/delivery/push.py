"""Push: reports and replies POSTed to the account's callback URLs (Standard Webhooks 1.0).

For each account with a callback, waiting inbox items are claimed in batches of at most
100, oldest first, once 100 wait or the first of them has waited ``push_fill_seconds``;
each batch is stored (``push_batches``) with its body and ``webhook-id`` before it is sent,
so that a restart resumes it. A 2xx answer hands its items out for good; ``410 Gone``
disables the callback and gives the items back; anything else (another status, no answer
within ``push_timeout_seconds``, a refused address) is retried with exponential back-off
and jitter until ``push_retry_hours`` after the batch was made, then its items wait for a
pull again. At most ``push_concurrency`` requests per account are in flight, over one
shared client (keep-alive), so a slow receiver holds up only its own account, and delivery
never waits on a push.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import httpx

from duanxin.api.render import render_items
from duanxin.delivery.ssrf import AddressPolicy, AddressRefused, guarded_client
from duanxin.domain.webhooks import backoff_seconds, new_message_id, webhook_headers
from duanxin.metrics import PUSH_OLDEST_WAITING, PUSH_RETRY_QUEUE, PUSHES
from duanxin.service.platform import Platform
from duanxin.service.pull import inbox_items
from duanxin.store import callbacks as callback_store
from duanxin.store import inbox
from duanxin.store.callbacks import Batch, CallbackRow, PushOutcome, consumer_of
from duanxin.store.inbox import Kind

__all__ = ["MAX_BATCH", "Answer", "Outcome", "PushWorker", "post_signed"]

log = logging.getLogger(__name__)
MAX_BATCH = 100
CLAIM_MARGIN = timedelta(hours=1)  # items stay claimed a little past a batch's last try
TRY_MARGIN = timedelta(seconds=30)  # a try's lease beyond its timeout (then: due again)
GAUGE_SECONDS = 1.0
DUE_PER_TICK = 200
DEFAULT_TIMEOUT = 5.0
MAX_ANSWER = 64 * 1024  # bytes of a receiver's answer read at most


class Outcome(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"
    REFUSED = "refused"
    GONE = "gone"
    GIVEN_UP = "given_up"


@dataclass(frozen=True, slots=True)
class Answer:
    """How one POST to a callback URL went."""

    outcome: Outcome
    error: str  # what went wrong ("" if nothing)
    status: int | None  # the receiver's HTTP status; None when it did not answer
    seconds: float  # how long the exchange took


async def post_signed(
    client: httpx.AsyncClient,
    url: str,
    secrets: Sequence[str],
    webhook_id: str,
    body: bytes,
    timeout: float = DEFAULT_TIMEOUT,
) -> Answer:
    """POST ``body`` signed with ``secrets``; the outcome, what went wrong, the status.

    The whole exchange gets ``timeout`` seconds (a receiver dripping its answer byte by byte
    does not hold a slot longer); of the answer's body at most ``MAX_ANSWER`` bytes are read
    (the rest is dropped with the connection)."""
    headers = webhook_headers(secrets, webhook_id, int(time.time()), body)
    started = time.monotonic()

    def answer(outcome: Outcome, error: str, status: int | None = None) -> Answer:
        return Answer(outcome, error, status, time.monotonic() - started)

    try:
        async with asyncio.timeout(timeout):
            status = await _exchange(client, url, body, headers)
    except TimeoutError:
        return answer(Outcome.FAILED, f"no answer within {timeout:g} s")
    except httpx.HTTPError as error:
        if isinstance(error.__cause__, AddressRefused) or isinstance(
            error, httpx.UnsupportedProtocol
        ):
            return answer(Outcome.REFUSED, str(error))
        return answer(Outcome.FAILED, f"{type(error).__name__}: {error}")
    if 200 <= status < 300:
        return answer(Outcome.DELIVERED, "", status)
    if status == httpx.codes.GONE:
        return answer(Outcome.GONE, "410 Gone", status)
    return answer(Outcome.FAILED, f"HTTP {status}", status)


async def _exchange(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]
) -> int:
    async with client.stream("POST", url, content=body, headers=headers) as response:
        read = 0
        async for chunk in response.aiter_raw():  # read to the end: the connection is reused
            read += len(chunk)
            if read > MAX_ANSWER:
                break
        return response.status_code


def _history(
    batch: Batch, outcome: Outcome, now: datetime, url: str, answer: Answer
) -> PushOutcome:
    return PushOutcome(
        at=now,
        kind=batch.kind,
        url=url,
        outcome=outcome.value,
        http_status=answer.status,
        error=answer.error,
        items=len(batch.item_ids),
        duration_ms=round(answer.seconds * 1000),
        attempt=batch.attempts + 1,
    )


class PushWorker:
    """Makes batches of waiting items and sends them, and retries the ones that failed."""

    def __init__(self, platform: Platform, *, rng: random.Random | None = None) -> None:
        self.platform = platform
        settings = platform.settings
        self.policy = AddressPolicy(lambda: self.platform.settings.push_allowed_networks)
        self.client = guarded_client(
            self.policy,
            max_connections=settings.push_max_connections,
            timeout=settings.push_timeout_seconds,
        )
        self._rng = rng or random.Random()
        self._in_flight: dict[int, int] = {}
        self._sending: dict[asyncio.Task[None], int] = {}  # task -> batch id
        self._first_seen: dict[tuple[int, Kind], float] = {}
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._gauges_at = 0.0

    async def start(self) -> None:
        self._runner = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        """Stop making batches; tries in flight are cut short and due again at once."""
        self._stop.set()
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)
        cut = list(self._sending.values())
        for task in list(self._sending):
            task.cancel()
        await asyncio.gather(*self._sending, return_exceptions=True)
        if cut:
            with contextlib.suppress(Exception):
                async with self.platform.engine.begin() as conn:
                    for batch_id in cut:
                        await callback_store.make_due(conn, batch_id, self.platform.clock())
        await self.client.aclose()

    # ------------------------------------------------------------------ the loop

    async def _run(self) -> None:
        poll = self.platform.settings.push_poll_seconds
        while not self._stop.is_set():
            self._wake.clear()  # before the round: a wake during it makes another one
            try:
                await self._tick()
            except Exception:
                log.exception("push: a round failed; trying again")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)

    async def _tick(self) -> None:
        now = self.platform.clock()
        # Reads go to the read pool (SQLite: never queued behind the sends' writer).
        async with self.platform.reader.connect() as conn:
            active = await callback_store.active_callbacks(conn)
        for callback in active:
            for kind in Kind:
                if callback.url(kind):
                    await self._fill(callback, kind, now)
        await self._retry_due(now)
        loop_now = asyncio.get_running_loop().time()
        if loop_now - self._gauges_at >= GAUGE_SECONDS:
            self._gauges_at = loop_now
            await self._update_gauges(active, now)

    def _free(self, account_id: int) -> bool:
        return self._in_flight.get(account_id, 0) < self.platform.settings.push_concurrency

    async def _fill(self, callback: CallbackRow, kind: Kind, now: datetime) -> None:
        key = (callback.account_id, kind)
        async with self.platform.reader.connect() as conn:
            waiting = await inbox.count_waiting_up_to(
                conn,
                kind,
                callback.account_id,
                now,
                MAX_BATCH * self.platform.settings.push_concurrency,
            )
        if not waiting:
            self._first_seen.pop(key, None)
            return
        loop_now = asyncio.get_running_loop().time()
        first = self._first_seen.setdefault(key, loop_now)
        window_over = loop_now - first >= self.platform.settings.push_fill_seconds
        while (
            waiting > 0
            and self._free(callback.account_id)
            and (waiting >= MAX_BATCH or window_over)
        ):
            batch = await self._new_batch(callback.account_id, kind, now)
            if batch is None:
                waiting = 0
                break
            waiting -= len(batch.item_ids)
            self._spawn(batch)
        if waiting <= 0:
            self._first_seen.pop(key, None)
        elif window_over:
            self._first_seen[key] = loop_now

    async def _new_batch(self, account_id: int, kind: Kind, now: datetime) -> Batch | None:
        settings = self.platform.settings
        webhook_id = new_message_id()
        give_up_at = now + timedelta(hours=settings.push_retry_hours)
        async with self.platform.engine.begin() as conn:
            rows = await inbox.claim(
                conn,
                kind,
                account_id,
                consumer_of(webhook_id),
                MAX_BATCH,
                now,
                give_up_at + CLAIM_MARGIN,
            )
            if not rows:
                return None
            return await callback_store.new_batch(
                conn,
                webhook_id=webhook_id,
                account_id=account_id,
                kind=kind,
                item_ids=[r["id"] for r in rows],
                body=render_items(inbox_items(kind, rows)),
                lease_until=self._try_lease(now),
                give_up_at=give_up_at,
                now=now,
            )

    def _try_lease(self, now: datetime) -> datetime:
        return now + timedelta(seconds=self.platform.settings.push_timeout_seconds) + TRY_MARGIN

    async def _retry_due(self, now: datetime) -> None:
        async with self.platform.reader.connect() as conn:
            if not await callback_store.any_due(conn, now):
                return
        async with self.platform.engine.begin() as conn:
            due = await callback_store.due_batches(conn, now, self._try_lease(now), DUE_PER_TICK)
            later = []
            for batch in due:
                if self._free(batch.account_id):
                    self._spawn(batch)
                else:
                    later.append(batch.id)
            for batch_id in later:  # that account is busy: due again at the next round
                await callback_store.make_due(conn, batch_id, now)

    def _spawn(self, batch: Batch) -> None:
        self._in_flight[batch.account_id] = self._in_flight.get(batch.account_id, 0) + 1
        task = asyncio.get_running_loop().create_task(self._deliver(batch))
        self._sending[task] = batch.id
        task.add_done_callback(lambda t: self._done(t, batch.account_id))

    def _done(self, task: asyncio.Task[None], account_id: int) -> None:
        self._sending.pop(task, None)
        remaining = self._in_flight.get(account_id, 1) - 1
        if remaining > 0:
            self._in_flight[account_id] = remaining
        else:
            self._in_flight.pop(account_id, None)
        if not task.cancelled() and task.exception() is not None:
            log.error("push: a batch failed", exc_info=task.exception())
        self._wake.set()

    # ------------------------------------------------------------------ one try

    async def _deliver(self, batch: Batch) -> None:
        """Send ``batch``; while it is answered 2xx and a full batch waits behind it, go
        on with that one in the same slot (a backlog does not wait for the next round)."""
        next_batch: Batch | None = batch
        while next_batch is not None:
            outcome = await self._try(next_batch)
            next_batch = None
            if outcome is Outcome.DELIVERED and not self._stop.is_set():
                next_batch = await self._full_batch(batch.account_id, batch.kind)
            task = asyncio.current_task()
            if next_batch is not None and task is not None:
                self._sending[task] = next_batch.id  # cut short at a stop: due again

    async def _full_batch(self, account_id: int, kind: Kind) -> Batch | None:
        now = self.platform.clock()
        async with self.platform.reader.connect() as conn:
            waiting = await inbox.count_waiting_up_to(conn, kind, account_id, now, MAX_BATCH)
        return await self._new_batch(account_id, kind, now) if waiting >= MAX_BATCH else None

    async def _try(self, batch: Batch) -> Outcome:
        async with self.platform.reader.connect() as conn:
            callback = await callback_store.find_callback(conn, batch.account_id)
        url = callback.url(batch.kind) if callback else ""
        if callback is None or not url:  # removed or disabled since: back to pull
            return await self._settle(batch, Outcome.GIVEN_UP, "callback removed")
        secrets = callback.signing_secrets(self.platform.clock())
        answer = await post_signed(
            self.client,
            url,
            secrets,
            batch.webhook_id,
            batch.body,
            self.platform.settings.push_timeout_seconds,
        )
        return await self._settle(batch, answer.outcome, answer.error, (url, answer))

    async def _settle(
        self,
        batch: Batch,
        outcome: Outcome,
        error: str,
        tried: tuple[str, Answer] | None = None,
    ) -> Outcome:
        """Act on a try's outcome; ``tried`` (the URL and its answer) is kept in the
        account's push history with what came of it."""
        now = self.platform.clock()
        consumer = consumer_of(batch.webhook_id)
        kind = batch.kind
        async with self.platform.engine.begin() as conn:
            if outcome is Outcome.DELIVERED:
                await inbox.ack(conn, kind, batch.item_ids, consumer)
                await callback_store.delete_batch(conn, batch.id)
            elif outcome is Outcome.GONE or outcome is Outcome.GIVEN_UP:
                if outcome is Outcome.GONE:
                    await callback_store.disable(conn, batch.account_id, kind, error, now)
                await inbox.release(conn, kind, batch.item_ids, consumer)
                await callback_store.delete_batch(conn, batch.id)
            else:
                attempts = batch.attempts + 1
                wait = backoff_seconds(
                    attempts, self._rng, self.platform.settings.push_first_retry_seconds
                )
                retry_at = now + timedelta(seconds=wait)
                if retry_at >= batch.give_up_at:
                    await inbox.release(conn, kind, batch.item_ids, consumer)
                    await callback_store.delete_batch(conn, batch.id)
                    outcome = Outcome.GIVEN_UP
                else:
                    await callback_store.postpone(conn, batch.id, attempts, retry_at, error)
            if tried is not None:
                await callback_store.record_outcome(
                    conn, batch.account_id, _history(batch, outcome, now, *tried)
                )
        if error and outcome is not Outcome.DELIVERED:
            log.info("push %s to account %d: %s (%s)", batch.webhook_id, batch.account_id,
                     outcome.value, error)  # fmt: skip
        PUSHES.labels(kind.value, outcome.value).inc()
        return outcome

    async def _update_gauges(self, active: Sequence[CallbackRow], now: datetime) -> None:
        async with self.platform.reader.connect() as conn:
            PUSH_RETRY_QUEUE.set(await callback_store.pending_batches(conn))
            oldest: list[Any] = []
            for kind in Kind:
                ids = [c.account_id for c in active if c.url(kind)]
                oldest.append(await callback_store.oldest_waiting(conn, kind, ids, now))
        times = [t for t in oldest if t is not None]
        PUSH_OLDEST_WAITING.set(max(0.0, (now - min(times)).total_seconds()) if times else 0.0)
