"""A simulated China Mobile ISMG speaking CMPP 2.0 and 3.0 over TCP.

Each connection runs at the version its CONNECT asked for (0x2x: 2.0 layout, 0x30: 3.0).
Logins are checked with :func:`~duanxin.protocols.cmpp.auth.verify_connect` against
``SimulatorConfig.password`` (any login is accepted when ``account`` is None). Submits get
Msg_Ids from a :class:`MessageIdGenerator`; over the TPS limit they are answered with
Result 8 (flow control). Reports follow after ``report_delay`` as DELIVERs with
Registered_Delivery = 1; MO goes out as DELIVERs with Registered_Delivery = 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import operator
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from duanxin.domain.encoding import decode_text
from duanxin.domain.msgid import MessageIdGenerator
from duanxin.domain.segments import ConcatInfo, Segment, parse_udh, split_message
from duanxin.protocols.cmpp.auth import CHINA_STANDARD_TIME, connect_response, verify_connect
from duanxin.protocols.cmpp.client import canonical_id
from duanxin.protocols.cmpp.dialect import CmppDialect
from duanxin.protocols.cmpp.pdu import (
    CmppActiveTest,
    CmppCancel,
    CmppCancelResp,
    CmppCancelResult,
    CmppConnect,
    CmppConnectResp,
    CmppConnectStatus,
    CmppDeliver,
    CmppMsgFmt,
    CmppQuery,
    CmppQueryResp,
    CmppRegisteredDelivery,
    CmppSubmit,
    CmppSubmitResp,
    CmppSubmitResult,
    Pdu,
)
from duanxin.protocols.cmpp.report import CmppStatusReport
from duanxin.protocols.core.aio import SessionProtocol
from duanxin.protocols.core.session import SessionConfig
from duanxin.protocols.core.state import Direction, Role
from duanxin.simulator.core import CarrierBehaviour, SimulatorConfig, TokenBucket, time_text
from duanxin.simulator.faults import SubmitFate
from duanxin.simulator.listening import Listening
from duanxin.simulator.outbox import Kind, Outbox, late_or_now

__all__ = ["CmppSimulator"]

log = logging.getLogger("duanxin.simulator.cmpp")

_SEQUENCE_MASK = 0xFFFF
_MAX_BINARY_CONTENT = 140  # octets of user data in one SMS
# The spec says Msg_Length < 160 for Msg_Fmt 0, but gateways take a full 160-character
# GSM message, and that is what the shared segmenter produces.
_MAX_ASCII_CONTENT = 160
_report_time = operator.methodcaller("strftime", "%y%m%d%H%M")
_SMSC_SEQUENCE_LIMIT = 0xFFFFFFFF

#: SUBMIT_RESP Results the fault profiles answer with. CMPP has one retryable code, 8, for
#: both "too fast" and "gateway busy" (notes §10.2).
THROTTLE_RESULT = CmppSubmitResult.FLOW_CONTROL
BUSY_RESULT = CmppSubmitResult.FLOW_CONTROL
REFUSE_RESULT = CmppSubmitResult.BAD_DEST_TERMINAL_ID
INTERMEDIATE_STAT = "ENROUTE"

_R = TypeVar("_R")


class _SimulatorDialect(CmppDialect):
    """CMPP, counting the heartbeats the client sends."""

    def __init__(self, simulator: CmppSimulator) -> None:
        super().__init__()
        self._simulator = simulator

    def observe(self, pdu: Pdu, direction: Direction) -> None:
        super().observe(pdu, direction)
        if direction is Direction.RECEIVE and isinstance(pdu, CmppActiveTest):
            self._simulator.heartbeats_received += 1


@dataclass(eq=False)
class _Connection:
    dialect: CmppDialect
    session: SessionProtocol[Pdu] | None = None
    account: str = ""
    throttle: TokenBucket | None = None
    bound: bool = False


@dataclass(frozen=True, slots=True)
class _Report:
    """One recipient of one accepted SUBMIT that asked for a report."""

    submit: CmppSubmit
    destination: str
    msg_id: int
    submitted: datetime


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """A status report to write, with the link it was submitted on."""

    origin: _Connection
    report: _Report
    stat: str


@dataclass(frozen=True, slots=True)
class _Mo:
    """One segment of a reply from a handset."""

    source: str
    destination: str
    segment: Segment


def _content(submit: CmppSubmit) -> tuple[ConcatInfo | None, bytes]:
    if submit.tp_udhi & 1:
        return parse_udh(submit.msg_content)
    return None, submit.msg_content


async def _resolved(value: Awaitable[_R] | _R) -> _R:
    if isinstance(value, Awaitable):
        return await value
    return value


def _group_id(first: int, index: int) -> int:
    """The id of the ``index``-th destination of a group send whose first id is ``first``."""
    return (first & ~_SEQUENCE_MASK) | ((first + index) & _SEQUENCE_MASK)


def _content_limit(msg_fmt: int) -> int:
    return _MAX_ASCII_CONTENT if msg_fmt == CmppMsgFmt.ASCII else _MAX_BINARY_CONTENT


class CmppSimulator(Listening[Pdu]):
    """A CMPP gateway for tests and local runs (``SimulatorServer``)."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.behaviour = CarrierBehaviour(config)
        self.heartbeats_received = 0
        self.max_submits_in_flight = 0
        self._submits_in_flight = 0
        self._ids = MessageIdGenerator(config.node_id)
        self._server: asyncio.Server | None = None
        self._connections: list[_Connection] = []
        self._outbox: Outbox[_Outgoing | _Mo] = Outbox(self.behaviour, self._send)
        self._tasks: set[asyncio.Task[None]] = set()
        self._answering = asyncio.Event()
        self._answering.set()
        self._mo_reference = itertools.count(1)
        self._smsc_sequence = itertools.count(1)

    # ----------------------------------------------------------- lifecycle

    @property
    def sessions(self) -> list[SessionProtocol[Pdu]]:
        """Logged-in connections, oldest first."""
        return [c.session for c in self._connections if c.bound and c.session is not None]

    async def stop(self) -> None:
        self._answering.set()
        self._stop_listening()
        for connection in list(self._connections):
            if connection.session is not None:
                connection.session.abort("simulator stopped")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._closed()

    # ----------------------------------------------- test and operator knobs

    def drop_links(self) -> None:
        """Close every connection at once (no TERMINATE), with whatever is in flight."""
        for connection in list(self._connections):
            if connection.session is not None:
                connection.session.abort("dropped by the simulator")

    def pause_submits(self) -> None:
        """Hold every SUBMIT_RESP until :meth:`resume_submits` (to watch the window fill)."""
        self._answering.clear()

    def resume_submits(self) -> None:
        self._answering.set()

    @property
    def submits_in_flight(self) -> int:
        """SUBMITs received and not yet answered, over all connections."""
        return self._submits_in_flight

    # ---------------------------------------------------------- connections

    def _new_session(self) -> SessionProtocol[Pdu]:
        connection = _Connection(_SimulatorDialect(self))
        session: SessionProtocol[Pdu] = SessionProtocol(
            connection.dialect,
            Role.SERVER,
            lambda session, pdu: self._handle(connection, pdu),
            SessionConfig(login_timeout=self.config.login_timeout),
        )
        connection.session = session
        self._connections.append(connection)
        session.closed.add_done_callback(lambda _: self._forget(connection))
        return session

    def _forget(self, connection: _Connection) -> None:
        connection.bound = False
        with contextlib.suppress(ValueError):
            self._connections.remove(connection)

    def _handle(self, connection: _Connection, pdu: Pdu) -> Awaitable[Pdu | None] | Pdu | None:
        if isinstance(pdu, CmppConnect):
            return self._login(connection, pdu)
        if isinstance(pdu, CmppSubmit):
            return self._answer_submit(connection, pdu)
        if isinstance(pdu, CmppQuery):
            return CmppQueryResp(
                sequence_id=pdu.sequence_id,
                time=pdu.time,
                query_type=pdu.query_type,
                query_code=pdu.query_code,
                mt_tl_msg=self.behaviour.submits,
            )
        if isinstance(pdu, CmppCancel):
            return CmppCancelResp(
                sequence_id=pdu.sequence_id,
                version=connection.dialect.version,
                success_id=CmppCancelResult.FAILED,
            )
        return None

    def _login(self, connection: _Connection, connect: CmppConnect) -> CmppConnectResp:
        config = self.config
        secret = config.password or ""
        if config.account is None:
            status = CmppConnectStatus.OK
        elif not self.behaviour.accepts_login(connect.source_addr, secret):
            status = CmppConnectStatus.ILLEGAL_SOURCE_ADDRESS
        else:
            status = verify_connect(connect, secret)
        if status == CmppConnectStatus.OK:
            connection.bound = True
            connection.account = connect.source_addr
            connection.throttle = self.behaviour.new_throttle(self._loop_time())
            self._outbox.flush_later(connection.account)
        if config.verbose:
            log.info(
                "CONNECT %s version %#x: status %d", connect.source_addr, connect.version, status
            )
        return connect_response(connect, status, secret)

    # -------------------------------------------------------------- submits

    def _answer_submit(
        self, connection: _Connection, submit: CmppSubmit
    ) -> Awaitable[CmppSubmitResp] | CmppSubmitResp | None:
        session = connection.session
        if session is None or not session.is_open:
            return None  # read with a PDU that dropped the link: never received
        behaviour = self.behaviour
        if behaviour.drop_due():
            if len(submit.msg_content) <= _content_limit(submit.msg_fmt):
                self._accept(connection, submit)  # received, as a real gateway would
            session.abort("dropped by the simulator (drop-every)")
            return None
        if behaviour.over_tps(connection.throttle, self._loop_time()):
            return self._submit_resp(submit, CmppSubmitResult.FLOW_CONTROL)
        concat = _content(submit)[0] if behaviour.faults.refuse_segment else None
        destination = submit.dest_terminal_ids[0] if submit.dest_terminal_ids else ""
        fate = behaviour.judge(submit.src_id, destination, concat)
        if fate is SubmitFate.SILENT:
            return None
        if fate is not SubmitFate.ACCEPT:
            return self._submit_resp(submit, self._fault_result(fate))
        if not self._answering.is_set():
            return self._answer_submit_later(connection, submit)
        self.max_submits_in_flight = max(self.max_submits_in_flight, self._submits_in_flight + 1)
        return self._check_and_accept(connection, submit)  # at once: no task per submit

    def _fault_result(self, fate: SubmitFate) -> int:
        if fate is SubmitFate.REFUSE:
            return self.config.faults.refuse_code or REFUSE_RESULT
        return BUSY_RESULT if fate is SubmitFate.BUSY else THROTTLE_RESULT

    async def _answer_submit_later(
        self, connection: _Connection, submit: CmppSubmit
    ) -> CmppSubmitResp:
        self._submits_in_flight += 1
        self.max_submits_in_flight = max(self.max_submits_in_flight, self._submits_in_flight)
        try:
            await self._answering.wait()
        finally:
            self._submits_in_flight -= 1
        return await _resolved(self._check_and_accept(connection, submit))

    def _check_and_accept(
        self, connection: _Connection, submit: CmppSubmit
    ) -> Awaitable[CmppSubmitResp] | CmppSubmitResp:
        if len(submit.msg_content) > _content_limit(submit.msg_fmt):
            return self._submit_resp(submit, CmppSubmitResult.MESSAGE_TOO_LONG)
        response, early = self._accept(connection, submit)
        return late_or_now(response, early, self.config.faults.slow)

    def _submit_resp(self, submit: CmppSubmit, result: int, msg_id: int = 0) -> CmppSubmitResp:
        return CmppSubmitResp(
            sequence_id=submit.sequence_id, version=submit.version, msg_id=msg_id, result=result
        )

    def _accept(
        self, connection: _Connection, submit: CmppSubmit
    ) -> tuple[CmppSubmitResp, list[asyncio.Future[Any]]]:
        now, wall = self._loop_time(), datetime.now(CHINA_STANDARD_TIME)
        destinations = submit.dest_terminal_ids
        first = self._ids.next_ids(wall, len(destinations))[0]
        concat, body = _content(submit)
        text = decode_text(body, submit.msg_fmt)
        early: list[asyncio.Future[Any]] = []
        for index, destination in enumerate(destinations):
            msg_id = _group_id(first, index)
            self.behaviour.record(
                submit.src_id, destination, text, concat, canonical_id(msg_id), now
            )
            if submit.registered_delivery == CmppRegisteredDelivery.YES:
                early += self._plan_report(connection, _Report(submit, destination, msg_id, wall))
        return self._submit_resp(submit, CmppSubmitResult.OK, first), early

    # -------------------------------------------------------------- reports

    def _plan_report(self, origin: _Connection, report: _Report) -> list[asyncio.Future[Any]]:
        faults = self.config.faults
        items: list[tuple[Kind, _Outgoing]] = []
        if faults.enroute:
            items.append((Kind.INTERMEDIATE, _Outgoing(origin, report, INTERMEDIATE_STAT)))
        items.append((Kind.FINAL, _Outgoing(origin, report, self.behaviour.draw_stat())))
        if faults.early_reports:
            self.behaviour.early_reports += 1
            return self._outbox.send_now(origin.account, items)
        self._outbox.plan(origin.account, items)
        return []

    def _receiver(self, account: str | None) -> _Connection | None:
        for connection in self._connections:
            if connection.bound and account in (None, connection.account):
                return connection
        return None

    def _send(self, account: str | None, outgoing: _Outgoing | _Mo) -> asyncio.Future[Any] | None:
        if isinstance(outgoing, _Mo):
            receiver = self._receiver(account)
            if receiver is None or receiver.session is None:
                return None
            return receiver.session.send_request(self._mo_deliver(receiver, outgoing))
        # A report goes back on the submitting link, or another link of the same SP.
        origin = outgoing.origin
        connection = origin if origin.bound else self._receiver(account)
        if connection is None or connection.session is None:
            return None
        report, done = outgoing.report, datetime.now(CHINA_STANDARD_TIME)
        version = connection.dialect.version
        content = CmppStatusReport(
            version=version,
            msg_id=report.msg_id,
            stat=outgoing.stat,
            submit_time=time_text(_report_time, report.submitted),
            done_time=time_text(_report_time, done),
            dest_terminal_id=report.destination,
            smsc_sequence=next(self._smsc_sequence) & _SMSC_SEQUENCE_LIMIT,
        )
        deliver = CmppDeliver(
            version=version,
            msg_id=self._ids.next_id(done),
            dest_id=report.submit.src_id,
            service_id=report.submit.service_id,
            msg_fmt=CmppMsgFmt.ASCII,
            src_terminal_id=report.destination,
            registered_delivery=CmppRegisteredDelivery.YES,
            msg_content=content.encode(),
        )
        return connection.session.send_request(deliver)

    # ------------------------------------------------------------------- MO

    async def inject_mo(
        self, source: str, destination: str, text: str, *, keep: bool = False
    ) -> None:
        """Send ``text`` from handset ``source`` to ``destination`` on a logged-in link.

        Raises RuntimeError when no link is logged in, unless ``keep``: then the MO is kept
        and sent, in order, when an SP logs in again.
        """
        items = [
            (Kind.MO, _Mo(source, destination, segment))
            for segment in split_message(text, next(self._mo_reference))
        ]
        answers = self._outbox.send_now(None, items) if keep else self._outbox.try_send(None, items)
        if answers is None:
            raise RuntimeError("no logged-in CMPP connection to deliver MO to")
        self.behaviour.note_mo(source, destination, text)
        await asyncio.gather(*answers, return_exceptions=keep)

    def _mo_deliver(self, connection: _Connection, mo: _Mo) -> CmppDeliver:
        segment = mo.segment
        return CmppDeliver(
            version=connection.dialect.version,
            msg_id=self._ids.next_id(datetime.now(CHINA_STANDARD_TIME)),
            dest_id=mo.destination,
            tp_udhi=1 if segment.has_udh else 0,
            msg_fmt=segment.coding,
            src_terminal_id=mo.source,
            registered_delivery=CmppRegisteredDelivery.NO,
            msg_content=segment.user_data,
        )
