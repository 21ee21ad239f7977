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
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime

from duanxin.domain.encoding import decode_text
from duanxin.domain.msgid import MessageIdGenerator
from duanxin.domain.segments import parse_udh, split_message
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
    CmppPdu,
    CmppQuery,
    CmppQueryResp,
    CmppRegisteredDelivery,
    CmppSubmit,
    CmppSubmitResp,
    CmppSubmitResult,
)
from duanxin.protocols.cmpp.report import CmppStatusReport
from duanxin.protocols.core.aio import ResponseTimeout, SessionClosed, SessionProtocol, serve
from duanxin.protocols.core.errors import ProtocolError
from duanxin.protocols.core.session import SessionConfig
from duanxin.protocols.core.state import Direction, Role
from duanxin.simulator.core import CarrierBehaviour, DelayedCalls, SimulatorConfig, TokenBucket

__all__ = ["CmppSimulator"]

log = logging.getLogger("duanxin.simulator.cmpp")

_SEQUENCE_MASK = 0xFFFF
_MAX_BINARY_CONTENT = 140  # octets of user data in one SMS
# The spec says Msg_Length < 160 for Msg_Fmt 0, but gateways take a full 160-character
# GSM message, and that is what the shared segmenter produces.
_MAX_ASCII_CONTENT = 160
_REPORT_TIME = "%y%m%d%H%M"
_SMSC_SEQUENCE_LIMIT = 0xFFFFFFFF


class _SimulatorDialect(CmppDialect):
    """CMPP, counting the heartbeats the client sends."""

    def __init__(self, simulator: CmppSimulator) -> None:
        super().__init__()
        self._simulator = simulator

    def observe(self, pdu: CmppPdu, direction: Direction) -> None:
        super().observe(pdu, direction)
        if direction is Direction.RECEIVE and isinstance(pdu, CmppActiveTest):
            self._simulator.heartbeats_received += 1


@dataclass(eq=False)
class _Connection:
    dialect: CmppDialect
    session: SessionProtocol[CmppPdu] | None = None
    account: str = ""
    throttle: TokenBucket | None = None
    bound: bool = False


def _report_answered(answer: asyncio.Future[CmppPdu]) -> None:
    if answer.cancelled():
        return
    error = answer.exception()
    if error is not None and not isinstance(error, SessionClosed | ResponseTimeout | ProtocolError):
        log.error("report not delivered", exc_info=error)


def _group_id(first: int, index: int) -> int:
    """The id of the ``index``-th destination of a group send whose first id is ``first``."""
    return (first & ~_SEQUENCE_MASK) | ((first + index) & _SEQUENCE_MASK)


def _content_limit(msg_fmt: int) -> int:
    return _MAX_ASCII_CONTENT if msg_fmt == CmppMsgFmt.ASCII else _MAX_BINARY_CONTENT


class CmppSimulator:
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
        self._reports = DelayedCalls()
        self._tasks: set[asyncio.Task[None]] = set()
        self._answering = asyncio.Event()
        self._answering.set()
        self._mo_reference = itertools.count(1)
        self._smsc_sequence = itertools.count(1)

    # ----------------------------------------------------------- lifecycle

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("simulator not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def sessions(self) -> list[SessionProtocol[CmppPdu]]:
        """Logged-in connections, oldest first."""
        return [c.session for c in self._connections if c.bound and c.session is not None]

    async def start(self) -> None:
        self._server = await serve(
            self.config.host,
            self.config.port,
            self._new_session,
            max_per_address=self.config.max_connections_per_address,
        )

    async def stop(self) -> None:
        self._answering.set()
        self._reports.cancel()
        if self._server is not None:
            self._server.close()
        for connection in list(self._connections):
            if connection.session is not None:
                connection.session.abort("simulator stopped")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    # ----------------------------------------------- test and operator knobs

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

    def _new_session(self) -> SessionProtocol[CmppPdu]:
        connection = _Connection(_SimulatorDialect(self))
        session: SessionProtocol[CmppPdu] = SessionProtocol(
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

    def _handle(
        self, connection: _Connection, pdu: CmppPdu
    ) -> Awaitable[CmppPdu | None] | CmppPdu | None:
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
            connection.throttle = self.behaviour.new_throttle(asyncio.get_running_loop().time())
        if config.verbose:
            log.info(
                "CONNECT %s version %#x: status %d", connect.source_addr, connect.version, status
            )
        return connect_response(connect, status, secret)

    # -------------------------------------------------------------- submits

    def _answer_submit(
        self, connection: _Connection, submit: CmppSubmit
    ) -> Awaitable[CmppSubmitResp] | CmppSubmitResp:
        throttle = connection.throttle
        if throttle is not None and not throttle.take(asyncio.get_running_loop().time()):
            return self._submit_resp(submit, CmppSubmitResult.FLOW_CONTROL)
        if not self._answering.is_set():
            return self._answer_submit_later(connection, submit)
        self.max_submits_in_flight = max(self.max_submits_in_flight, self._submits_in_flight + 1)
        return self._check_and_accept(connection, submit)  # at once: no task per submit

    async def _answer_submit_later(
        self, connection: _Connection, submit: CmppSubmit
    ) -> CmppSubmitResp:
        self._submits_in_flight += 1
        self.max_submits_in_flight = max(self.max_submits_in_flight, self._submits_in_flight)
        try:
            await self._answering.wait()
        finally:
            self._submits_in_flight -= 1
        return self._check_and_accept(connection, submit)

    def _check_and_accept(self, connection: _Connection, submit: CmppSubmit) -> CmppSubmitResp:
        if len(submit.msg_content) > _content_limit(submit.msg_fmt):
            return self._submit_resp(submit, CmppSubmitResult.MESSAGE_TOO_LONG)
        return self._accept(connection, submit)

    def _submit_resp(self, submit: CmppSubmit, result: int, msg_id: int = 0) -> CmppSubmitResp:
        return CmppSubmitResp(
            sequence_id=submit.sequence_id, version=submit.version, msg_id=msg_id, result=result
        )

    def _accept(self, connection: _Connection, submit: CmppSubmit) -> CmppSubmitResp:
        loop = asyncio.get_running_loop()
        wall = datetime.now(CHINA_STANDARD_TIME)
        destinations = submit.dest_terminal_ids
        first = self._ids.next_ids(wall, len(destinations))[0]
        concat, body = None, submit.msg_content
        if submit.tp_udhi & 1:
            concat, body = parse_udh(body)
        text = decode_text(body, submit.msg_fmt)
        for index, destination in enumerate(destinations):
            msg_id = _group_id(first, index)
            self.behaviour.record(
                submit.src_id, destination, text, concat, canonical_id(msg_id), loop.time()
            )
            if submit.registered_delivery == CmppRegisteredDelivery.YES:
                self._schedule_report(connection, submit, destination, msg_id, wall)
        return self._submit_resp(submit, CmppSubmitResult.OK, first)

    def _schedule_report(
        self,
        connection: _Connection,
        submit: CmppSubmit,
        destination: str,
        msg_id: int,
        submitted: datetime,
    ) -> None:
        self._reports.add(
            self.config.report_delay,
            self._send_report,
            connection,
            submit,
            destination,
            msg_id,
            submitted,
        )

    def _receiver(self, account: str | None) -> _Connection | None:
        for connection in self._connections:
            if connection.bound and account in (None, connection.account):
                return connection
        return None

    def _send_report(
        self,
        origin: _Connection,
        submit: CmppSubmit,
        destination: str,
        msg_id: int,
        submitted: datetime,
    ) -> None:
        # A report goes back on the submitting link, or another link of the same SP.
        connection = origin if origin.bound else self._receiver(origin.account)
        if connection is None or connection.session is None:
            return
        done = datetime.now(CHINA_STANDARD_TIME)
        version = connection.dialect.version
        report = CmppStatusReport(
            version=version,
            msg_id=msg_id,
            stat=self.behaviour.draw_stat(),
            submit_time=submitted.strftime(_REPORT_TIME),
            done_time=done.strftime(_REPORT_TIME),
            dest_terminal_id=destination,
            smsc_sequence=next(self._smsc_sequence) & _SMSC_SEQUENCE_LIMIT,
        )
        deliver = CmppDeliver(
            version=version,
            msg_id=self._ids.next_id(done),
            dest_id=submit.src_id,
            service_id=submit.service_id,
            msg_fmt=CmppMsgFmt.ASCII,
            src_terminal_id=destination,
            registered_delivery=CmppRegisteredDelivery.YES,
            msg_content=report.encode(),
        )
        # No task per report: the response (or the error) only has to be collected.
        connection.session.send_request(deliver).add_done_callback(_report_answered)

    # ------------------------------------------------------------------- MO

    async def inject_mo(self, source: str, destination: str, text: str) -> None:
        """Send ``text`` from handset ``source`` to ``destination`` on a logged-in link."""
        connection = self._receiver(None)
        if connection is None or connection.session is None:
            raise RuntimeError("no logged-in CMPP connection to deliver MO to")
        self.behaviour.note_mo(source, destination, text)
        version = connection.dialect.version
        now = datetime.now(CHINA_STANDARD_TIME)
        delivers = [
            CmppDeliver(
                version=version,
                msg_id=self._ids.next_id(now),
                dest_id=destination,
                tp_udhi=1 if segment.has_udh else 0,
                msg_fmt=segment.coding,
                src_terminal_id=source,
                registered_delivery=CmppRegisteredDelivery.NO,
                msg_content=segment.user_data,
            )
            for segment in split_message(text, next(self._mo_reference))
        ]
        session = connection.session
        await asyncio.gather(*(session.request(deliver) for deliver in delivers))
