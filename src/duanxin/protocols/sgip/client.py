"""The SGIP carrier client: Submit on an SP-opened link, Deliver and Report on a listener.

SGIP links carry commands one way only. :class:`SgipClient` therefore runs two things:

* the MT side, a :class:`CarrierSessionClient` that binds to the SMG with LoginType 1 and
  sends Submits. SGIP has no heartbeat, so the link is unbound after ``idle_timeout``
  seconds without traffic (the session core's idle timer) and bound again by the next
  submit;
* a listener (:class:`SgipListener`) the SMG connects to with LoginType 2 to push Deliver
  (MO) and Report.

Settings used from ``ChannelSettings.extra`` (all optional):

============================  ==========================================================
``listen_host``               listener address, default ``127.0.0.1``
``listen_port``               listener port, default 0 (ephemeral; see ``listen_port``)
``listen_account``            LoginName the SMG must present, default ``settings.account``
``listen_password``           its LoginPassword, default ``settings.password``
``node_id``                   this SP's node id, default 3000000000 + the 5-digit corp code
``idle_timeout``              seconds before an idle MT link is unbound (default 50; None
                              keeps it bound)
``charge_number``             ChargeNumber, default 21 zeros (the SP pays)
``fee_type`` / ``fee_value``  FeeType (default 1, free) / FeeValue in fen (default "0")
``morelateto_mt_flag``        default 2 (MT not caused by an MO)
``priority``                  0-9, default 0
============================  ==========================================================
"""

from __future__ import annotations

import asyncio
import dataclasses
import hmac
import logging
from collections import OrderedDict
from collections.abc import Awaitable

from duanxin.domain.numbers import national_mobile, with_country_code
from duanxin.domain.segments import Segment
from duanxin.protocols import carrier
from duanxin.protocols.core.aio import SessionProtocol, serve
from duanxin.protocols.core.clock import Clock, china_standard_time
from duanxin.protocols.core.sequence import Backoff, with_fields
from duanxin.protocols.core.state import Role
from duanxin.protocols.sgip import pdu as s
from duanxin.protocols.sgip.dialect import SgipDialect, new_counter

log = logging.getLogger(__name__)

#: Below the SMG's default 60 s idle limit, so we close the link before it does.
DEFAULT_IDLE_TIMEOUT = 50.0
SP_NODE_BASE = 3_000_000_000  # 3AAAAQQQQQ with area code 0000
RETRYABLE_RESULTS = frozenset({s.Result.NODE_BUSY})


def canonical_id(sequence: s.SequenceNumber) -> str:
    """The platform's carrier id of a submitted segment: ``"node:MMDDHHMMSS:counter"``.

    SGIP has no gateway message id; a Submit is known by its own header triple, which the
    Submit_Resp repeats and a Report names in SubmitSequenceNumber. The time part is
    zero-padded to 10 digits, e.g. ``"3010012345:1128143015:2"``.
    """
    return f"{sequence.node}:{sequence.time:010d}:{sequence.counter}"


def report_stat(state: int, error_code: int) -> str | None:
    """The 7-character stat of a Report; ``None`` while it is still pending (State 1).

    State 0 is ``DELIVRD``. State 2 keeps the carrier's ErrorCode: ``ER:0025`` for
    ErrorCode 25 (user unreachable), or ``UNDELIV`` when the SMG gave no code.
    """
    if state == s.ReportState.DELIVERED:
        return "DELIVRD"
    if state == s.ReportState.WAITING:
        return None
    return f"ER:{error_code:04d}" if error_code else "UNDELIV"


def _default_node_id(settings: carrier.ChannelSettings) -> int:
    corp = settings.sp_code
    return SP_NODE_BASE + (int(corp) if corp.isdigit() and len(corp) <= 5 else 0)


class SgipAdapter:
    """SGIP's part of a carrier client: Bind, Submits, and what Deliver/Report carry."""

    def __init__(
        self,
        settings: carrier.ChannelSettings,
        *,
        now: Clock = china_standard_time,
    ) -> None:
        self.settings = settings
        self.node_id = settings.int_knob("node_id", 0) or _default_node_id(settings)
        self._now = now
        # One counter for every link of this node: triples must never repeat between links.
        self._counter = new_counter()
        self._template = s.Submit(
            charge_number=settings.str_knob("charge_number", s.SP_PAYS),
            corp_id=settings.sp_code,
            service_type=settings.service_id,
            fee_type=settings.int_knob("fee_type", s.FeeType.FREE),
            fee_value=settings.str_knob("fee_value", "0"),
            morelateto_mt_flag=settings.int_knob("morelateto_mt_flag", 2),
            priority=settings.int_knob("priority", 0),
        )

    def new_dialect(self) -> SgipDialect:
        return SgipDialect(self.node_id, self._now, counter=self._counter)

    def login_request(self, settings: carrier.ChannelSettings) -> s.Pdu:
        return s.Bind(
            login_type=s.LoginType.SP_TO_SMG,
            login_name=settings.account,
            login_password=settings.password,
        )

    def login_status(self, response: s.Pdu) -> int:
        return response.result if isinstance(response, s.BindResp) else s.Result.ILLEGAL_LOGIN

    def submit_requests(
        self, message: carrier.OutboundMessage, segments: list[Segment]
    ) -> list[s.Pdu]:
        """One Submit per segment, one recipient each; long ones carry the UDH (TP_udhi 1)."""
        report = s.ReportFlag.ALWAYS if message.want_report else s.ReportFlag.NONE
        return [
            with_fields(
                self._template,
                sp_number=message.source,
                user_numbers=(with_country_code(message.destination),),
                report_flag=report,
                tp_udhi=1 if segment.has_udh else 0,
                message_coding=int(segment.coding),
                message_content=segment.user_data,
            )
            for segment in segments
        ]

    def submit_outcome(self, response: s.Pdu) -> carrier.SubmitOutcome:
        if not isinstance(response, s.SubmitResp):
            return carrier.SubmitOutcome(s.Result.SYSTEM_FAILURE, "")
        if response.result != s.Result.OK:
            return carrier.SubmitOutcome(response.result, "", response.result in RETRYABLE_RESULTS)
        return carrier.SubmitOutcome(s.Result.OK, canonical_id(response.sequence))

    def inbound(self, request: s.Pdu) -> tuple[s.Pdu | None, carrier.Inbound | None]:
        """Answer a command from the SMG and say what it carried.

        Deliver and Report are accepted on either link: a gateway that breaks the
        one-direction rule should not cost us an MO or a report.
        """
        sequence = request.sequence
        if isinstance(request, s.Deliver):
            return s.DeliverResp(sequence=sequence), deliver_to_mo(request)
        if isinstance(request, s.Report):
            return s.ReportResp(sequence=sequence), report_to_inbound(request)
        if isinstance(request, s.UserRpt):
            return s.UserRptResp(sequence=sequence), None
        if isinstance(request, s.Trace):
            refused = s.TraceNode(result=s.Result.FUNCTION_NOT_PROVIDED)
            return s.TraceResp(sequence=sequence, nodes=(refused,)), None
        # A Submit sent to the SP, or anything else an SP does not serve.
        return s.SubmitResp(sequence=sequence, result=s.Result.FUNCTION_NOT_PROVIDED), None


def deliver_to_mo(deliver: s.Deliver) -> carrier.CarrierMO:
    """The platform's view of one Deliver (one segment of a long MO when TP_udhi is set)."""
    return carrier.CarrierMO.decoded(
        national_mobile(deliver.user_number),
        deliver.sp_number,
        deliver.message_content,
        deliver.message_coding,
        udh=bool(deliver.tp_udhi & 1),
    )


def report_to_inbound(report: s.Report) -> carrier.CarrierReport | None:
    """A final report about one of our Submits; ``None`` for pending or forwarded ones."""
    stat = report_stat(report.state, report.error_code)
    if stat is None or report.report_type != 0:
        return None
    return carrier.CarrierReport(
        carrier_id=canonical_id(report.submit_sequence),
        destination=national_mobile(report.user_number),
        stat=stat,
    )


DEFAULT_LISTEN_HOST = "127.0.0.1"
SEEN_LIMIT = 4096  # sequence triples the listener remembers, to spot the SMG's resends
#: The answers that can say "illegal sequence number" to a triple reused with new content.
_RESULT_RESPONSES = (s.DeliverResp, s.ReportResp, s.UserRptResp, s.SubmitResp)


class SgipListener:
    """The SP's SGIP server: accepts the SMG's LoginType 2 links, hands their MO and
    reports on.

    Each link runs the shared session engine in the server role. A Bind is checked against
    the listen credentials; every other command is answered through the adapter's
    :meth:`~SgipAdapter.inbound` once the platform's handler has taken what it carried.
    The SMG resends a command whose response was late: one whose sequence triple was
    already handled is answered again without being handed on a second time; one that
    reuses a triple with different content is answered with Result 9 (illegal sequence).
    """

    def __init__(
        self,
        adapter: SgipAdapter,
        settings: carrier.ChannelSettings,
        on_inbound: carrier.InboundHandler,
    ) -> None:
        self.adapter = adapter
        self.host = settings.str_knob("listen_host", DEFAULT_LISTEN_HOST)
        self._wanted_port = settings.int_knob("listen_port", 0)
        self._credentials = (
            settings.str_knob("listen_account", settings.account).encode(),
            settings.str_knob("listen_password", settings.password).encode(),
        )
        self._on_inbound = on_inbound
        self._config = dataclasses.replace(settings, heartbeat_interval=None).session_config()
        self._server: asyncio.Server | None = None
        self.links: set[SessionProtocol[s.Pdu]] = set()
        self.binds = self.refused_binds = 0
        self._seen: OrderedDict[s.SequenceNumber, s.Pdu] = OrderedDict()

    @property
    def port(self) -> int:
        """The port actually listened on; RuntimeError before :meth:`start`."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("listener not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        """Bind the listening socket."""
        if self._server is None:
            self._server = await serve(self.host, self._wanted_port, self._new_link)

    async def close(self) -> None:
        """Stop listening and drop every link the SMG opened."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        for link in list(self.links):
            link.abort("listener closed")
        if server is not None:
            await server.wait_closed()

    def _new_link(self) -> SessionProtocol[s.Pdu]:
        link = SessionProtocol(self.adapter.new_dialect(), Role.SERVER, self._handle, self._config)
        self.links.add(link)
        link.closed.add_done_callback(lambda _: self.links.discard(link))
        return link

    def _handle(
        self, session: SessionProtocol[s.Pdu], pdu: s.Pdu
    ) -> Awaitable[s.Pdu | None] | s.Pdu | None:
        if isinstance(pdu, s.Bind):
            return self._answer_bind(session, pdu)
        earlier = self._seen.get(pdu.sequence)
        if earlier is None:
            return carrier.answer_request(self.adapter, self._on_inbound, pdu, self._remember)
        response, _ = self.adapter.inbound(pdu)
        if earlier != pdu and isinstance(response, _RESULT_RESPONSES):
            return dataclasses.replace(response, result=s.Result.ILLEGAL_SEQUENCE)
        return response  # a resend: answered again, handed on once

    def _answer_bind(self, session: SessionProtocol[s.Pdu], bind: s.Bind) -> s.Pdu:
        given = (bind.login_name.encode(), bind.login_password.encode())
        if bind.login_type != s.LoginType.SMG_TO_SP:
            result = s.Result.BAD_LOGIN_TYPE
        elif all(map(hmac.compare_digest, given, self._credentials)):
            self.binds += 1
            return s.BindResp(sequence=bind.sequence)
        else:
            result = s.Result.ILLEGAL_LOGIN
        self.refused_binds += 1
        log.warning("refused SGIP bind from %s: result %d", session.peer, result)
        return s.BindResp(sequence=bind.sequence, result=result)

    def _remember(self, pdu: s.Pdu) -> None:
        self._seen[pdu.sequence] = pdu
        if len(self._seen) > SEEN_LIMIT:
            self._seen.popitem(last=False)


class SgipClient(carrier.CarrierSessionClient[s.Pdu]):
    """An SP's SGIP connection pair: the MT link to the SMG and the listener for its links.

    The MT link logs out after ``idle_timeout`` without traffic (the session core's idle
    timer) and is parked: the next submit binds again.
    """

    def __init__(
        self,
        settings: carrier.ChannelSettings,
        on_inbound: carrier.InboundHandler,
        *,
        now: Clock = china_standard_time,
        backoff: Backoff | None = None,
    ) -> None:
        settings = dataclasses.replace(settings, heartbeat_interval=None)
        adapter = SgipAdapter(settings, now=now)
        idle = settings.float_knob("idle_timeout", DEFAULT_IDLE_TIMEOUT)
        config = settings.session_config(idle_timeout=idle)
        super().__init__(adapter, settings, on_inbound, backoff=backoff, config=config)
        self.listener = SgipListener(adapter, settings, on_inbound)

    @property
    def listen_port(self) -> int:
        """The port the SMG must connect to (the real one when ``listen_port`` was 0)."""
        return self.listener.port

    async def start(self) -> None:
        """Bind the listener (before returning) and start binding the MT link."""
        if self._runner is None:
            await self.listener.start()
            await super().start()

    async def close(self) -> None:
        """Unbind the MT link, close the listener and every link the SMG opened."""
        await super().close()
        await self.listener.close()


def open_client(
    settings: carrier.ChannelSettings,
    on_inbound: carrier.InboundHandler,
    *,
    now: Clock = china_standard_time,
) -> SgipClient:
    """The SGIP carrier client for one channel (call ``start()`` to bind and listen)."""
    return SgipClient(settings, on_inbound, now=now)
