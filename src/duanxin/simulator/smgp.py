"""A simulated China Telecom SMGW speaking SMGP 3.0 over TCP.

Logins are checked with the SMGP digest (any credentials when the config names no
account); each connection's LoginMode decides whether it may submit (0, 2) and whether it
receives MO and reports (1, 2). Submits are answered with BCD MsgIDs laid out as the notes'
§10 (SMGW code from ``config.node_id`` + receive time + sequence); reports follow as
Deliver IsReport = 1 after ``config.report_delay`` on a connection that can receive.
"""

from __future__ import annotations

import asyncio
import logging
import operator
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from duanxin.domain.encoding import decode_text
from duanxin.domain.segments import ConcatInfo, parse_udh, split_message
from duanxin.domain.status import DELIVERED
from duanxin.protocols.core.aio import SessionProtocol
from duanxin.protocols.core.clock import china_standard_time
from duanxin.protocols.core.session import SessionConfig
from duanxin.protocols.core.state import Role
from duanxin.protocols.core.table import tlv_int
from duanxin.protocols.smgp.auth import login_response, verify_login
from duanxin.protocols.smgp.dialect import SmgpDialect
from duanxin.protocols.smgp.msgid import MsgIdGenerator, canonical_id, smgw_code
from duanxin.protocols.smgp.pdu import (
    MSG_ID_SIZE,
    LoginMode,
    MsgFormat,
    Pdu,
    SmgpDeliver,
    SmgpDeliverResp,
    SmgpLogin,
    SmgpQuery,
    SmgpQueryResp,
    SmgpStatus,
    SmgpSubmit,
    SmgpSubmitResp,
    Tlv,
    TlvTag,
)
from duanxin.protocols.smgp.report import SmgpReport, encode_report
from duanxin.simulator.core import CarrierBehaviour, SimulatorConfig, TokenBucket, time_text
from duanxin.simulator.faults import SubmitFate
from duanxin.simulator.listening import Listening
from duanxin.simulator.outbox import Kind, Outbox, late_or_now

__all__ = ["SmgpSimulator"]

log = logging.getLogger("duanxin.simulator.smgp")

_NO_MSG_ID = bytes(MSG_ID_SIZE)
_SENDING_MODES = (LoginMode.SEND, LoginMode.TRANSMIT)
_RECEIVING_MODES = (LoginMode.RECEIVE, LoginMode.TRANSMIT)
# Report err codes for the stats a simulator draws (notes §5.6); anything else is 999.
_REPORT_ERRORS = {
    DELIVERED: "000",
    "ENROUTE": "000",
    "EXPIRED": "001",
    "UNDELIV": "006",
    "REJECTD": "006",
}
_REPORT_LENGTH_DIGITS = 3
_report_time = operator.methodcaller("strftime", "%y%m%d%H%M")
_receive_time = operator.methodcaller("strftime", "%Y%m%d%H%M%S")
_REPORT_TEXT_HEAD = 17

#: Submit_Resp Status the fault profiles answer with. SMGP's one retryable status, 1
#: (system busy), stands for flow control too (notes §9).
THROTTLE_STATUS = SmgpStatus.SYSTEM_BUSY
BUSY_STATUS = SmgpStatus.SYSTEM_BUSY
REFUSE_STATUS = SmgpStatus.ILLEGAL_DEST_TERM_ID
INTERMEDIATE_STAT = "ENROUTE"


@dataclass(eq=False)
class _Link:
    """One client connection and what its login settled."""

    session: SessionProtocol[Pdu]
    dialect: SmgpDialect
    login_mode: int | None = None
    account: str = ""  # the ClientID it logged in with
    throttle: TokenBucket | None = None
    in_flight: int = 0  # submits whose response is held back by the gate

    @property
    def can_submit(self) -> bool:
        return self.session.is_bound and self.login_mode in _SENDING_MODES

    @property
    def can_receive(self) -> bool:
        return self.session.is_bound and self.login_mode in _RECEIVING_MODES


class SmgpSimulator(Listening[Pdu]):
    """An SMGW: implements :class:`duanxin.simulator.core.SimulatorServer`.

    ``response_gate`` holds Submit_Resps back while cleared (tests use it to fill the
    client's window); ``max_in_flight`` is the most unanswered submits one connection had;
    ``logins`` counts accepted logins.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.behaviour = CarrierBehaviour(config)
        self.response_gate = asyncio.Event()
        self.response_gate.set()
        self.max_in_flight = 0
        self.logins = 0
        self._ids = MsgIdGenerator(smgw_code(config.node_id))
        self._links: list[_Link] = []
        self._server: asyncio.Server | None = None
        self._outbox: Outbox[_Outgoing | SmgpDeliver] = Outbox(self.behaviour, self._send)
        self._mo_reference = 0

    # --------------------------------------------------------------- lifecycle

    @property
    def connections(self) -> int:
        """Connections currently open."""
        return len(self._links)

    @property
    def heartbeats_received(self) -> int:
        """Active_Tests received on the connections currently open."""
        return sum(link.dialect.heartbeats_received for link in self._links)

    async def stop(self) -> None:
        self._stop_listening()
        for link in list(self._links):
            link.session.abort("simulator stopping")
        self.response_gate.set()
        await self._closed()

    def drop_links(self) -> None:
        """Cut every connection without logging out (a gateway restart, as seen by clients)."""
        for link in list(self._links):
            link.session.abort("dropped by the simulator")

    drop_connections = drop_links

    def _new_session(self) -> SessionProtocol[Pdu]:
        dialect = SmgpDialect()
        link: _Link

        def handle(session: SessionProtocol[Pdu], pdu: Pdu) -> Awaitable[Pdu | None] | Pdu | None:
            return self._handle(link, pdu)

        # The client keeps the link alive; the gateway only answers its Active_Tests.
        config = SessionConfig(heartbeat_interval=None, login_timeout=self.config.login_timeout)
        session = SessionProtocol(dialect, Role.SERVER, handle, config)
        link = _Link(session, dialect)
        self._links.append(link)
        session.closed.add_done_callback(lambda _: self._links.remove(link))
        return session

    # ---------------------------------------------------------------- requests

    def _handle(self, link: _Link, pdu: Pdu) -> Awaitable[Pdu | None] | Pdu | None:
        if isinstance(pdu, SmgpSubmit):
            return self._submit(link, pdu)
        if isinstance(pdu, SmgpLogin):
            return self._login(link, pdu)
        if isinstance(pdu, SmgpQuery):
            return self._query(pdu)
        if isinstance(pdu, SmgpDeliver):  # gateways deliver; SPs do not
            return SmgpDeliverResp(
                sequence_id=pdu.sequence_id, msg_id=pdu.msg_id, status=SmgpStatus.BAD_COMMAND
            )
        return None

    def _login(self, link: _Link, login: SmgpLogin) -> Pdu:
        secret = self.config.password or ""
        status = self._login_status(login, secret)
        if status == SmgpStatus.OK:
            self.logins += 1
            link.login_mode = login.login_mode
            link.account = login.client_id
            self._outbox.flush_later(link.account)
            link.throttle = self.behaviour.new_throttle(self._loop_time())
        elif self.config.verbose:
            log.info("login by %r refused with status %d", login.client_id, status)
        return login_response(login, secret, status)

    def _login_status(self, login: SmgpLogin, secret: str) -> int:
        configured = self.config.account is not None
        if configured and not self.behaviour.accepts_login(login.client_id, secret):
            return SmgpStatus.AUTHENTICATION_ERROR
        status = verify_login(login, secret)
        if status == SmgpStatus.AUTHENTICATION_ERROR and not configured:
            return SmgpStatus.OK  # an open gateway takes any secret
        return status

    def _submit(self, link: _Link, submit: SmgpSubmit) -> Awaitable[Pdu | None] | Pdu | None:
        if not link.session.is_open:
            return None  # read with a PDU that dropped the link: never received
        behaviour = self.behaviour
        if behaviour.drop_due():
            if link.can_submit and submit.dest_term_ids:
                self._accept(link, submit)  # received, as a real gateway would have
            link.session.abort("dropped by the simulator (drop-every)")
            return None
        status = self._check_submit(link, submit, self._loop_time())
        if status != SmgpStatus.OK:
            return _submit_resp(submit, _NO_MSG_ID, status)
        concat = _submitted_text(submit)[1] if behaviour.faults.refuse_segment else None
        fate = behaviour.judge(submit.src_term_id, submit.dest_term_ids[0], concat)
        if fate is SubmitFate.SILENT:
            return None
        if fate is not SubmitFate.ACCEPT:
            return _submit_resp(submit, _NO_MSG_ID, self._fault_status(fate))
        response, early = self._accept(link, submit)
        if self.response_gate.is_set():
            return late_or_now(response, early, self.config.faults.slow)
        return self._answer_when_released(link, response)

    def _fault_status(self, fate: SubmitFate) -> int:
        if fate is SubmitFate.REFUSE:
            return self.config.faults.refuse_code or REFUSE_STATUS
        return BUSY_STATUS if fate is SubmitFate.BUSY else THROTTLE_STATUS

    def _accept(self, link: _Link, submit: SmgpSubmit) -> tuple[Pdu, list[asyncio.Future[Any]]]:
        now, when = self._loop_time(), china_standard_time()
        ids = self._ids.next_ids(when, len(submit.dest_term_ids))
        text, concat = _submitted_text(submit)
        early: list[asyncio.Future[Any]] = []
        for msg_id, destination in zip(ids, submit.dest_term_ids, strict=True):
            carrier_id = canonical_id(msg_id)
            self.behaviour.record(submit.src_term_id, destination, text, concat, carrier_id, now)
            if submit.need_report:
                early += self._plan_report(link, _Report(submit, msg_id, destination, when))
        return _submit_resp(submit, ids[0], SmgpStatus.OK), early

    def _check_submit(self, link: _Link, submit: SmgpSubmit, now: float) -> int:
        if not link.can_submit:
            return SmgpStatus.BAD_COMMAND
        if self.behaviour.over_tps(link.throttle, now):
            return THROTTLE_STATUS
        if not submit.dest_term_ids:
            return SmgpStatus.ILLEGAL_DEST_TERM_ID
        return SmgpStatus.OK

    async def _answer_when_released(self, link: _Link, response: Pdu) -> Pdu:
        link.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, link.in_flight)
        try:
            await self.response_gate.wait()
        finally:
            link.in_flight -= 1
        return response

    def _query(self, query: SmgpQuery) -> Pdu:
        return SmgpQueryResp(
            sequence_id=query.sequence_id,
            query_time=query.query_time,
            query_type=query.query_type,
            query_code=query.query_code,
            mt_tlmsg=self.behaviour.submits,
            mt_tlusr=len({m.destination for m in self.behaviour.received}),
            mt_scs=self.behaviour.submits,
        )

    # ----------------------------------------------------------------- reports

    def _plan_report(self, origin: _Link, report: _Report) -> list[asyncio.Future[Any]]:
        items: list[tuple[Kind, _Outgoing]] = []
        if self.config.faults.enroute:
            items.append((Kind.INTERMEDIATE, _Outgoing(origin, report, INTERMEDIATE_STAT)))
        items.append((Kind.FINAL, _Outgoing(origin, report, self.behaviour.draw_stat())))
        if self.config.faults.early_reports:
            self.behaviour.early_reports += 1
            return self._outbox.send_now(origin.account, items)
        self._outbox.plan(origin.account, items)
        return []

    def _send(
        self, account: str | None, outgoing: _Outgoing | SmgpDeliver
    ) -> asyncio.Future[Any] | None:
        if isinstance(outgoing, SmgpDeliver):  # MO
            target = self._receiver(account)
            return None if target is None else target.session.send_request(outgoing)
        origin = outgoing.origin
        receiver = origin if origin.can_receive else self._receiver(account)
        if receiver is None:
            return None
        report, stat, now = outgoing.report, outgoing.stat, china_standard_time()
        content = report.submit.msg_content
        text = SmgpReport(
            msg_id=report.msg_id,
            submit_date=time_text(_report_time, report.when),
            done_date=time_text(_report_time, now),
            stat=stat,
            err=_REPORT_ERRORS.get(stat, "999"),
            text=f"{len(content):0{_REPORT_LENGTH_DIGITS}d}".encode() + content[:_REPORT_TEXT_HEAD],
        )
        deliver = SmgpDeliver(
            msg_id=self._ids.next_id(now),
            is_report=1,
            msg_format=MsgFormat.ASCII,
            recv_time=time_text(_receive_time, now),
            src_term_id=report.destination,
            dest_term_id=report.submit.src_term_id,
            msg_content=encode_report(text),
        )
        # No task per report: the response (or the error) only has to be collected.
        return receiver.session.send_request(deliver)

    # ---------------------------------------------------------------------- MO

    async def inject_mo(
        self, source: str, destination: str, text: str, *, keep: bool = False
    ) -> None:
        """Deliver a reply from handset ``source``, split into UDH segments when long.

        Raises RuntimeError when no connection can receive, unless ``keep``: then the MO is
        kept and sent, in order, when a receiving login comes.
        """
        self._mo_reference = (self._mo_reference + 1) & 0xFF
        items: list[tuple[Kind, _Outgoing | SmgpDeliver]] = []
        for segment in split_message(text, self._mo_reference):
            now = china_standard_time()
            deliver = SmgpDeliver(
                msg_id=self._ids.next_id(now),
                is_report=0,
                msg_format=segment.coding,
                recv_time=f"{now:%Y%m%d%H%M%S}",
                src_term_id=source,
                dest_term_id=destination,
                msg_content=segment.user_data,
                tlvs=(Tlv.of(TlvTag.TP_UDHI, 1),) if segment.has_udh else (),
            )
            items.append((Kind.MO, deliver))
        answers = self._outbox.send_now(None, items) if keep else self._outbox.try_send(None, items)
        if answers is None:
            raise RuntimeError("no logged-in connection can receive (LoginMode 1 or 2)")
        self.behaviour.note_mo(source, destination, text)
        await asyncio.gather(*answers, return_exceptions=keep)

    def _receiver(self, account: str | None = None) -> _Link | None:
        for link in self._links:
            if link.can_receive and account in (None, link.account):
                return link
        return None


@dataclass(frozen=True, slots=True)
class _Report:
    """One recipient of one accepted Submit that asked for a report."""

    submit: SmgpSubmit
    msg_id: bytes
    destination: str
    when: datetime


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """A report to write, with the link its Submit came on."""

    origin: _Link
    report: _Report
    stat: str


def _submit_resp(submit: SmgpSubmit, msg_id: bytes, status: int) -> SmgpSubmitResp:
    return SmgpSubmitResp(sequence_id=submit.sequence_id, msg_id=msg_id, status=status)


def _submitted_text(submit: SmgpSubmit) -> tuple[str, ConcatInfo | None]:
    content = submit.msg_content
    concat: ConcatInfo | None = None
    if tlv_int(submit.tlvs, TlvTag.TP_UDHI):
        concat, content = parse_udh(content)
    return decode_text(content, submit.msg_format), concat
