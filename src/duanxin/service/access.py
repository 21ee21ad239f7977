"""Customer CMPP/SMPP access, the service side: logins, who is connected, deliveries.

The front doors in :mod:`duanxin.access` parse PDUs and render answers; what they ask of
the platform goes through here and through :func:`duanxin.service.send.send` (the same
call as ``/smssend``):

- :func:`login` applies SPEC 2.2 to a CMPP CONNECT or an SMPP bind.
- :class:`Connections` holds who is logged in, refuses logins over the account's
  connection limit (``max_concurrency``), and records each connection in the store for
  ``duanxin access connections``.
- :func:`run_deliveries` hands an account's reports and replies to one of its
  connections: claimed from the inbox under the connection's consumer name, sent, then
  acknowledged when the customer answered OK, or released (for any consumer, this
  connection again included) on a refusal, a timeout or a lost connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.accounts import Account, Interface, check_account
from duanxin.domain.status import Status, StatusError
from duanxin.service.accounts import Caller
from duanxin.service.platform import Platform
from duanxin.store import access as access_store
from duanxin.store import accounts as account_store
from duanxin.store import inbox

__all__ = [
    "Connection",
    "Connections",
    "DeliverySink",
    "ReplyItem",
    "ReportItem",
    "list_connections",
    "login",
    "run_deliveries",
]

log = logging.getLogger(__name__)


async def login(
    platform: Platform, name: str, proves: Callable[[str], bool], caller: Caller
) -> Account:
    """The account ``name`` once SPEC 2.2's checks pass; raises StatusError otherwise.

    ``proves`` says whether the login proves knowledge of the account's password (a CMPP
    AuthenticatorSource digest, an SMPP password compared in constant time).
    """
    found = None
    if name:
        async with platform.reader.connect() as conn:
            found = await account_store.find_account(conn, name)
    if found is None or not proves(found.password):
        raise StatusError(Status.WRONG_ACCOUNT)
    return check_account(
        found, found.password, customer_id=None, ip=caller.ip, interface=caller.interface
    )


@dataclass(eq=False)
class Connection:
    """One logged-in customer connection."""

    consumer: str  # the inbox consumer name its deliveries are claimed under
    account: Account
    protocol: Interface
    bind_type: str
    peer: str
    since: datetime
    receives: bool  # may be sent reports and replies (not an SMPP transmitter)


class Connections:
    """Who is logged in on this process's customer servers."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._open: dict[str, Connection] = {}
        self._numbers = itertools.count(1)
        self._run = secrets.token_hex(4)  # consumer names never repeat across restarts

    async def clear_stale(self) -> None:
        """Forget connections a previous run of this node left recorded."""
        async with self._platform.engine.begin() as conn:
            await access_store.forget_node(conn, self._platform.ids.node)

    async def open(
        self, account: Account, protocol: Interface, bind_type: str, peer: str, receives: bool
    ) -> Connection:
        """Record a login; StatusError 21 when the account has its limit of connections."""
        limit = account.max_concurrency
        current = sum(1 for c in self._open.values() if c.account.id == account.id)
        if limit and current >= limit:
            raise StatusError(
                Status.TOO_MANY_CONNECTIONS, f"account already has {current} connections"
            )
        platform = self._platform
        node = platform.ids.node
        consumer = f"{protocol.value}:{node}:{self._run}:{next(self._numbers)}"
        connection = Connection(
            consumer, account, protocol, bind_type, peer, platform.clock(), receives
        )
        self._open[consumer] = connection  # counted at once: logins race otherwise
        try:
            async with platform.engine.begin() as conn:
                await access_store.keep_connection(
                    conn,
                    access_store.ConnectionRow(
                        consumer,
                        platform.ids.node,
                        account.account,
                        protocol.value,
                        bind_type,
                        peer,
                        connection.since,
                    ),
                )
        except BaseException:
            del self._open[consumer]
            raise
        return connection

    async def close(self, connection: Connection) -> None:
        """Forget a connection and give back every delivery it still holds."""
        if self._open.pop(connection.consumer, None) is None:
            return
        async with self._platform.engine.begin() as conn:
            await access_store.forget_connection(conn, connection.consumer)
            for kind in inbox.Kind:
                await inbox.release(conn, kind, None, connection.consumer)

    def of_account(self, account_id: int) -> list[Connection]:
        return [c for c in self._open.values() if c.account.id == account_id]

    def __len__(self) -> int:
        return len(self._open)


async def list_connections(platform: Platform) -> list[access_store.ConnectionRow]:
    """Every logged-in customer connection, with the deliveries each holds unanswered."""
    async with platform.reader.connect() as conn:
        return await access_store.list_connections(conn, platform.clock())


# ------------------------------------------------------------------ deliveries


@dataclass(frozen=True, slots=True)
class ReportItem:
    """A final report to deliver: one DELIVER / deliver_sm per id the customer was given."""

    mid: str
    given_ids: tuple[str, ...]
    mobile: str
    stat: str
    access_code: str
    submitted: datetime
    done: datetime


@dataclass(frozen=True, slots=True)
class ReplyItem:
    mid: str
    mobile: str
    access_code: str
    content: str
    received: datetime


class DeliverySink(Protocol):
    """A connection that takes deliveries; the front door renders them to its PDUs."""

    @property
    def is_open(self) -> bool: ...

    def deliver_report(self, item: ReportItem) -> Awaitable[bool]:
        """Send the report; True once the customer answered OK for every given id."""
        ...

    def deliver_reply(self, item: ReplyItem) -> Awaitable[bool]:
        """Send the reply (in segments if long); True once the customer answered OK."""
        ...


@dataclass(frozen=True, slots=True)
class DeliveryTimes:
    """How a connection's deliveries run."""

    batch: int = 256  # items under way at once per connection
    claim_seconds: float = 120.0  # a claim nobody answers ends by itself (a crash)
    idle_seconds: float = 0.1  # wait before looking again when nothing was waiting
    gather_seconds: float = 0.02  # after a claim that was not full, let more arrive


@dataclass(slots=True)
class _Settled:
    """What the customer answered, written with the next claim (one write transaction)."""

    acked: dict[inbox.Kind, list[int]] = field(default_factory=dict)
    failed: dict[inbox.Kind, list[int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return any(self.acked.values()) or any(self.failed.values())

    def note(self, kind: inbox.Kind, item_id: int, ok: bool) -> None:
        (self.acked if ok else self.failed).setdefault(kind, []).append(item_id)

    async def write(self, conn: AsyncConnection, consumer: str) -> None:
        for kind, ids in self.acked.items():
            await inbox.ack(conn, kind, ids, consumer)
        for kind, ids in self.failed.items():
            await inbox.release(conn, kind, ids, consumer)


@dataclass(slots=True)
class _Flight:
    """A connection's deliveries under way: each item answered on its own, so one the
    customer leaves unanswered holds up only its own window slot."""

    settled: _Settled = field(default_factory=_Settled)
    outstanding: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    under_way: set[asyncio.Future[bool]] = field(default_factory=set)

    def take_settled(self) -> _Settled:
        settled, self.settled = self.settled, _Settled()
        return settled

    def start(self, kind: inbox.Kind, item_id: int, delivery: Awaitable[bool]) -> None:
        self.outstanding += 1
        future = asyncio.ensure_future(delivery)  # a sink's future as it is: no task
        self.under_way.add(future)
        future.add_done_callback(partial(self._answered, kind, item_id))

    def _answered(self, kind: inbox.Kind, item_id: int, future: asyncio.Future[bool]) -> None:
        self.under_way.discard(future)
        # Refused, timed out or the connection closed: the item waits again.
        ok = not future.cancelled() and future.exception() is None and future.result() is True
        self.outstanding -= 1
        self.settled.note(kind, item_id, ok)
        self.changed.set()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), seconds)
        self.changed.clear()


async def run_deliveries(
    platform: Platform,
    connection: Connection,
    sink: DeliverySink,
    times: DeliveryTimes = DeliveryTimes(),
) -> None:
    """Deliver the account's waiting reports and replies on ``sink`` while it is open.

    Up to ``times.batch`` items are under way at once (the session's window decides how
    many are on the wire), claimed again once half of them are answered; the answers are
    written with the next claim. A claim that found fewer than it asked for waits
    ``times.gather_seconds`` before the next, so that items arriving one by one are
    still claimed (and acknowledged) many at a time.
    """
    flight = _Flight()
    refill = max(1, times.batch // 2)
    try:
        while sink.is_open:
            free = times.batch - flight.outstanding
            if free < refill:
                await flight.wait(times.idle_seconds)  # the customer's answers free slots
                continue
            claimed = 0
            if flight.settled or await _anything_waiting(platform, connection.account.id):
                reports, replies, details = await _claim(
                    platform, connection, free, flight.take_settled(), times
                )
                claimed = len(reports) + len(replies)
                if claimed:
                    _start(sink, reports, replies, details, flight)
            if claimed < free:
                await asyncio.sleep(times.gather_seconds if claimed else times.idle_seconds)
    finally:
        if flight.under_way:
            await asyncio.gather(*flight.under_way, return_exceptions=True)
        with contextlib.suppress(Exception):
            async with platform.engine.begin() as conn:
                await flight.take_settled().write(conn, connection.consumer)
                for kind in inbox.Kind:
                    await inbox.release(conn, kind, None, connection.consumer)


async def _anything_waiting(platform: Platform, account_id: int) -> bool:
    async with platform.reader.connect() as conn:
        return await inbox.any_waiting(conn, account_id, platform.clock())


_Claimed = tuple[list[inbox.Item], list[inbox.Item], dict[str, access_store.ReportDetails]]


async def _claim(
    platform: Platform,
    connection: Connection,
    size: int,
    settled: _Settled,
    times: DeliveryTimes,
) -> _Claimed:
    """One transaction: the answers so far written, then up to ``size`` items claimed (reports
    first), with what their DELIVERs need."""
    now = platform.clock()
    until = now + timedelta(seconds=times.claim_seconds)
    consumer, account_id = connection.consumer, connection.account.id
    replies: list[inbox.Item] = []
    async with platform.engine.begin() as conn:
        await settled.write(conn, consumer)
        reports = await inbox.claim(
            conn, inbox.Kind.REPORTS, account_id, consumer, size, now, until
        )
        if size > len(reports):
            replies = await inbox.claim(
                conn, inbox.Kind.REPLIES, account_id, consumer, size - len(reports), now, until
            )
        details = await access_store.report_details(conn, [r["mid"] for r in reports])
    return reports, replies, details


def _start(
    sink: DeliverySink,
    reports: list[inbox.Item],
    replies: list[inbox.Item],
    details: dict[str, access_store.ReportDetails],
    flight: _Flight,
) -> None:
    for row in reports:
        flight.start(inbox.Kind.REPORTS, row["id"], sink.deliver_report(_report_item(row, details)))
    for row in replies:
        flight.start(inbox.Kind.REPLIES, row["id"], sink.deliver_reply(_reply_item(row)))


def _report_item(row: inbox.Item, details: dict[str, access_store.ReportDetails]) -> ReportItem:
    mid = row["mid"]
    found = details.get(mid)
    return ReportItem(
        mid=mid,
        given_ids=(mid,) if found is None else found.given_ids,
        mobile=row["mobile"],
        stat=row["stat"],
        access_code=row["access_code"],
        submitted=row["reported_at"] if found is None else found.submitted,
        done=row["reported_at"],
    )


def _reply_item(row: inbox.Item) -> ReplyItem:
    return ReplyItem(
        mid=row["mid"],
        mobile=row["mobile"],
        access_code=row["access_code"],
        content=row["content"],
        received=row["received_at"],
    )
