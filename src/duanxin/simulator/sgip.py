"""A simulated China Unicom SMG speaking SGIP 1.2.

It listens for the SP's LoginType 1 links and answers Submits; reports and MO go the other
way, over a LoginType 2 link the simulator opens to the SP's listener at :attr:`sp_address`
(see :mod:`duanxin.simulator.sgip_link`).

* Logins: LoginType must be 1 (else Result 4); credentials are checked with
  ``behaviour.accepts_login`` (else Result 1, and the link is closed).
* Submits: recipients must carry ``86`` (else Result 6); a connection over its TPS limit
  gets Result 11 (node busy, SGIP's flow-control answer). Carrier ids are the Submit's own
  sequence triple, rendered by :func:`duanxin.protocols.sgip.client.canonical_id`.
* Reports: after ``config.report_delay`` seconds, one Report per recipient of every Submit
  whose ReportFlag asks for one (1 and 3 always, 0 only for failures). ``DELIVRD`` becomes
  State 0; other stats State 2 with an ErrorCode: ``ER:nnnn`` gives nnnn, a few SMPP-style
  stats have fixed codes (:data:`STAT_ERROR_CODES`), anything else 32 (system failure).
* The reverse Bind presents ``config.account``/``config.password`` when configured, else
  the credentials the SP last bound with; :attr:`sp_credentials` overrides both.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from duanxin.domain.encoding import decode_text
from duanxin.domain.numbers import national_mobile, with_country_code
from duanxin.domain.segments import ConcatInfo, parse_udh, split_message
from duanxin.domain.status import DELIVERED
from duanxin.protocols.core.aio import SessionClosed, SessionProtocol
from duanxin.protocols.core.clock import china_standard_time
from duanxin.protocols.core.errors import ProtocolError
from duanxin.protocols.core.session import SessionConfig
from duanxin.protocols.core.state import Direction, Role
from duanxin.protocols.sgip.client import canonical_id
from duanxin.protocols.sgip.dialect import SgipDialect, new_counter
from duanxin.protocols.sgip.pdu import (
    Bind,
    BindResp,
    Deliver,
    LoginType,
    Pdu,
    Report,
    ReportFlag,
    ReportState,
    Result,
    Submit,
    SubmitResp,
    Unbind,
)
from duanxin.simulator.core import CarrierBehaviour, SimulatorConfig, TokenBucket
from duanxin.simulator.faults import SubmitFate
from duanxin.simulator.listening import Listening
from duanxin.simulator.outbox import Kind, Outbox, late_or_now, respond_late
from duanxin.simulator.sgip_link import ReverseLink, refuse

__all__ = ["STAT_ERROR_CODES", "SgipSimulator", "stat_to_report"]

log = logging.getLogger("duanxin.simulator.sgip")

#: ErrorCode sent in a failed Report for the common 7-character stats.
STAT_ERROR_CODES = {
    "UNDELIV": Result.HANDSET_RECEIVE_ERROR,
    "EXPIRED": Result.USER_UNREACHABLE,
    "UNKNOWN": Result.UNKNOWN_USER,
    "REJECTD": Result.CHARGED_NUMBER_INVALID,
    "DELETED": Result.SYSTEM_FAILURE,
}
_CODED_STAT = re.compile(r"ER:(\d{4})")
_MOBILE_86 = re.compile(r"861\d{10}")
_SIMULATOR_WINDOW = 32

#: Submit_Resp Results the fault profiles answer with: SGIP's retry-later code, 11 (node
#: busy), covers flow control and a full queue alike (notes §7).
THROTTLE_RESULT = Result.NODE_BUSY
BUSY_RESULT = Result.NODE_BUSY
REFUSE_RESULT = Result.ILLEGAL_MOBILE_NUMBER
#: Seconds between attempts to bind to the SP while reports are kept.
REVERSE_RETRY = 0.5


def _content(submit: Submit) -> tuple[ConcatInfo | None, bytes]:
    if submit.tp_udhi & 1:
        return parse_udh(submit.message_content)
    return None, submit.message_content


def stat_to_report(stat: str) -> tuple[int, int]:
    """(State, ErrorCode) of a Report for the stat ``behaviour.draw_stat()`` chose."""
    if stat == DELIVERED:
        return ReportState.DELIVERED, Result.OK
    coded = _CODED_STAT.fullmatch(stat)
    if coded is not None:
        return ReportState.FAILED, min(int(coded.group(1)), 0xFF)
    return ReportState.FAILED, STAT_ERROR_CODES.get(stat, Result.SYSTEM_FAILURE)


class _SmgDialect(SgipDialect):
    """The SMG's dialect, counting the Unbinds its peers send."""

    def __init__(self, simulator: SgipSimulator) -> None:
        super().__init__(simulator.node_id, china_standard_time, counter=simulator.counter)
        self._simulator = simulator

    def observe(self, pdu: Pdu, direction: Direction) -> None:
        if direction is Direction.RECEIVE and isinstance(pdu, Unbind):
            self._simulator.unbinds += 1


@dataclass(slots=True)
class _Link:
    """What the simulator tracks for one SP-opened connection."""

    throttle: TokenBucket | None
    in_flight: int = 0


class SgipSimulator(Listening[Pdu]):
    """A simulated SMG: ``start()``, then point an SGIP client at :attr:`port`."""

    def __init__(self, config: SimulatorConfig, sp_address: tuple[str, int] | None = None) -> None:
        self.config = config
        self.behaviour = CarrierBehaviour(config)
        self.sp_address = sp_address
        self.sp_credentials: tuple[str, str] | None = None
        self.node_id = config.node_id
        self.counter = new_counter()
        self.response_delay = 0.0  # seconds before each Submit_Resp (to fill windows)
        self.binds = 0
        self.refused_binds = 0
        self.unbinds = 0
        self.max_in_flight = 0  # most Submits one connection had unanswered at once
        self.reports_sent: list[Report] = []
        self.links: dict[SessionProtocol[Pdu], _Link] = {}
        self._server: asyncio.Server | None = None
        self._last_login: tuple[str, str] = ("", "")
        self._references = itertools.count()
        self._outbox: Outbox[Report | Deliver] = Outbox(self.behaviour, self._send)
        self._connecting: asyncio.Task[None] | None = None
        self._stopping = False
        self.reverse = ReverseLink(
            lambda: _SmgDialect(self),
            self._reverse_credentials,
            SessionConfig(window=_SIMULATOR_WINDOW, heartbeat_interval=None),
        )

    # -------------------------------------------------------------- lifecycle

    async def stop(self) -> None:
        """Stop listening, drop every link, cancel pending reports."""
        self._stopping = True
        self._stop_listening()
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        await self.reverse.close()
        for link in list(self.links):
            link.abort("simulator stopped")
        await self._closed()

    def drop_links(self) -> None:
        """Cut every link, the SP's and the reverse one, with whatever is in flight."""
        for link in list(self.links):
            link.abort("dropped by the simulator")
        self.reverse.abort()

    # ------------------------------------------------------------------- MO

    async def inject_mo(
        self, source: str, destination: str, text: str, *, keep: bool = False
    ) -> None:
        """Send ``text`` from handset ``source`` to ``destination`` as Deliver(s) to the SP.

        Raises RuntimeError when there is no SP listener to deliver to, or it cannot be
        reached or bound; with ``keep``, the MO is kept instead and sent, in order, once the
        SP's listener takes a bind again.
        """
        delivers = [
            Deliver(
                user_number=with_country_code(source),
                sp_number=destination,
                tp_udhi=1 if segment.has_udh else 0,
                message_coding=int(segment.coding),
                message_content=segment.user_data,
            )
            for segment in split_message(text, next(self._references))
        ]
        if keep:
            self.behaviour.note_mo(source, destination, text)
            answers = self._outbox.send_now(None, [(Kind.MO, d) for d in delivers])
            await asyncio.gather(*answers, return_exceptions=True)
            return
        address = self.sp_address
        if address is None:
            raise RuntimeError("no SP listener address (sp_address) to deliver MO to")
        for deliver in delivers:
            try:
                await self.reverse.request(address, deliver)
            except (OSError, TimeoutError, SessionClosed, ProtocolError) as error:
                raise RuntimeError(f"cannot deliver MO to {address}: {error}") from error
        self.behaviour.note_mo(source, destination, text)

    # ----------------------------------------------------------- SP links

    def _new_session(self) -> SessionProtocol[Pdu]:
        loop = asyncio.get_running_loop()
        session: SessionProtocol[Pdu] = SessionProtocol(
            _SmgDialect(self),
            Role.SERVER,
            self._handle,
            SessionConfig(
                window=_SIMULATOR_WINDOW,
                heartbeat_interval=None,
                login_timeout=self.config.login_timeout,
            ),
        )
        self.links[session] = _Link(self.behaviour.new_throttle(loop.time()))
        session.closed.add_done_callback(lambda _: self.links.pop(session, None))
        return session

    def _handle(
        self, session: SessionProtocol[Pdu], pdu: Pdu
    ) -> Awaitable[Pdu | None] | Pdu | None:
        if isinstance(pdu, Bind):
            return self._answer_bind(pdu)
        if isinstance(pdu, Submit):
            return self._answer_submit(session, pdu)
        return refuse(session, pdu)

    def _answer_bind(self, bind: Bind) -> Pdu:
        if bind.login_type != LoginType.SP_TO_SMG:
            result = Result.BAD_LOGIN_TYPE
        elif not self.behaviour.accepts_login(bind.login_name, bind.login_password):
            result = Result.ILLEGAL_LOGIN
        else:
            result = Result.OK
            self._last_login = (bind.login_name, bind.login_password)
            if self._outbox.kept():  # the SP is back: its listener likely too
                asyncio.get_running_loop().call_soon(self._connect_reverse)
        if result == Result.OK:
            self.binds += 1
        else:
            self.refused_binds += 1
        return BindResp(sequence=bind.sequence, result=result)

    def _answer_submit(
        self, session: SessionProtocol[Pdu], submit: Submit
    ) -> Awaitable[Pdu | None] | Pdu | None:
        link = self.links.get(session)
        if link is None or not session.is_open:
            return None  # read with a PDU that dropped the link: never received
        now = self._loop_time()
        behaviour = self.behaviour
        valid = all(_MOBILE_86.fullmatch(n) for n in submit.user_numbers)
        if behaviour.drop_due():
            if valid:
                self._outbox.plan(None, self._accept(submit, now))  # received all the same
            session.abort("dropped by the simulator (drop-every)")
            return None
        if behaviour.over_tps(link.throttle, now):
            return SubmitResp(sequence=submit.sequence, result=THROTTLE_RESULT)
        if not valid:
            return SubmitResp(sequence=submit.sequence, result=Result.ILLEGAL_MOBILE_NUMBER)
        number = national_mobile(submit.user_numbers[0]) if submit.user_numbers else ""
        concat = _content(submit)[0] if behaviour.faults.refuse_segment else None
        fate = behaviour.judge(submit.sp_number, number, concat)
        if fate is SubmitFate.SILENT:
            return None
        if fate is not SubmitFate.ACCEPT:
            return SubmitResp(sequence=submit.sequence, result=self._fault_result(fate))
        items = self._accept(submit, now)
        response = SubmitResp(sequence=submit.sequence)
        if self.config.faults.early_reports and items:
            behaviour.early_reports += 1
            return self._answer_after_reports(response, items)
        self._outbox.plan(None, items)
        if self.response_delay <= 0:
            return late_or_now(response, [], self.config.faults.slow)
        link.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, link.in_flight)
        return self._answer_later(link, response)

    def _fault_result(self, fate: SubmitFate) -> int:
        if fate is SubmitFate.REFUSE:
            return self.config.faults.refuse_code or REFUSE_RESULT
        return BUSY_RESULT if fate is SubmitFate.BUSY else THROTTLE_RESULT

    async def _answer_later(self, link: _Link, response: Pdu) -> Pdu:
        try:
            await asyncio.sleep(self.response_delay)
        finally:
            link.in_flight -= 1
        return response

    async def _answer_after_reports(self, response: Pdu, items: list[tuple[Kind, Report]]) -> Pdu:
        """early-reports: bind the reverse link if needed, report, then answer."""
        address = self.sp_address
        if address is not None and not self.reverse.is_bound:
            with contextlib.suppress(OSError, TimeoutError, SessionClosed, ProtocolError):
                await self.reverse.bind(address)
        early = self._outbox.send_now(None, items)
        return await respond_late(response, early, self.config.faults.slow)

    def _accept(self, submit: Submit, now: float) -> list[tuple[Kind, Report]]:
        concat, content = _content(submit)
        text = decode_text(content, submit.message_coding)
        carrier_id = canonical_id(submit.sequence)
        items: list[tuple[Kind, Report]] = []
        for number in submit.user_numbers:
            self.behaviour.record(
                submit.sp_number, national_mobile(number), text, concat, carrier_id, now
            )
            items += self._report_items(submit, number)
        return items

    # -------------------------------------------------------------- reports

    def _report_items(self, submit: Submit, number: str) -> list[tuple[Kind, Report]]:
        flag = submit.report_flag
        if flag == ReportFlag.NONE:
            return []
        stat = self.behaviour.draw_stat()
        if flag == ReportFlag.FAILURE_ONLY and stat == DELIVERED:
            return []
        items: list[tuple[Kind, Report]] = []
        if self.config.faults.enroute:
            waiting = Report(
                submit_sequence=submit.sequence,
                user_number=number,
                state=ReportState.WAITING,
                error_code=Result.OK,
            )
            items.append((Kind.INTERMEDIATE, waiting))
        state, error_code = stat_to_report(stat)
        final = Report(
            submit_sequence=submit.sequence, user_number=number, state=state, error_code=error_code
        )
        items.append((Kind.FINAL, final))
        return items

    def _send(self, account: str | None, pdu: Report | Deliver) -> asyncio.Future[Any] | None:
        address = self.sp_address
        if address is None:
            return None
        answer = self.reverse.send_if_bound(address, pdu)
        if answer is None:
            self._connect_reverse()
            return None
        if isinstance(pdu, Report):
            answer.add_done_callback(lambda answer: self._report_answered(pdu, answer))
        return answer

    def _report_answered(self, report: Report, answer: asyncio.Future[Pdu]) -> None:
        if not answer.cancelled() and answer.exception() is None:
            self.reports_sent.append(report)

    def _connect_reverse(self, delay: float = 0.0) -> None:
        """Bind the reverse link in the background, then write what the outbox kept."""
        if self._connecting is not None or self._stopping:
            return
        self._connecting = asyncio.get_running_loop().create_task(self._bind_and_flush(delay))

    async def _bind_and_flush(self, delay: float) -> None:
        try:
            if delay:
                await asyncio.sleep(delay)
            address = self.sp_address
            if address is None:
                return
            await self.reverse.bind(address)
        except (OSError, TimeoutError, SessionClosed, ProtocolError) as error:
            log.info("reports kept: cannot bind to the SP: %s", error)
            failed = True
        else:
            failed = False
        finally:
            self._connecting = None
        if failed:
            if self._outbox.kept():
                self._connect_reverse(REVERSE_RETRY)
            return
        self._outbox.flush(None)

    def _reverse_credentials(self) -> tuple[str, str]:
        if self.sp_credentials is not None:
            return self.sp_credentials
        if self.config.account is not None:
            return self.config.account, self.config.password or ""
        return self._last_login
