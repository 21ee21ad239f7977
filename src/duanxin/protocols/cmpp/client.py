"""The CMPP carrier client: log in as an SP, submit segments, receive reports and MO.

Canonical carrier id (see :func:`canonical_id`): the 8 Msg_Id bytes as 16 lowercase hex
digits, e.g. ``be39e3c1e2400001``. SUBMIT_RESP.Msg_Id and the Msg_Id inside a status
report render the same, so reports match their submits by string equality.

Knobs in ``ChannelSettings.extra`` (all optional): ``fee_user_type`` (int, default 0),
``fee_type`` (default ``"01"``, free), ``fee_code`` (default ``"000000"``),
``msg_level`` (default 0), ``fee_terminal_id`` (default ``""``).
"""

from __future__ import annotations

import logging

from duanxin.domain.segments import Segment
from duanxin.protocols import carrier
from duanxin.protocols.cmpp import pdu as c
from duanxin.protocols.cmpp.auth import authenticator_ismg, connect_request
from duanxin.protocols.cmpp.dialect import CmppDialect
from duanxin.protocols.cmpp.report import CmppStatusReport
from duanxin.protocols.core.clock import Clock, china_standard_time
from duanxin.protocols.core.errors import ProtocolError

log = logging.getLogger(__name__)
_MSG_ID_BYTES = 8


def canonical_id(msg_id: int | bytes) -> str:
    """The platform's key for a CMPP Msg_Id: its 8 big-endian bytes in lowercase hex."""
    if isinstance(msg_id, bytes):
        if len(msg_id) != _MSG_ID_BYTES:
            raise ValueError(f"a Msg_Id is {_MSG_ID_BYTES} bytes, not {len(msg_id)}")
        return msg_id.hex()
    return f"{msg_id:016x}"


class CmppAdapter:
    """CMPP's part of a :class:`CarrierSessionClient`."""

    def __init__(
        self, settings: carrier.ChannelSettings, *, clock: Clock = china_standard_time
    ) -> None:
        self.settings = settings
        self.version: int = settings.version or c.CmppVersion.V30  # sent as is in CONNECT
        self._clock = clock
        self._last_connect: c.CmppConnect | None = None
        self._fee_user_type = settings.int_knob("fee_user_type", c.CmppFeeUserType.DESTINATION)
        self._fee_type = settings.str_knob("fee_type", "01")
        self._fee_code = settings.str_knob("fee_code", "000000")
        self._msg_level = settings.int_knob("msg_level", 0)
        self._fee_terminal_id = settings.str_knob("fee_terminal_id", "")

    def new_dialect(self) -> CmppDialect:
        return CmppDialect(self.version)

    def login_request(self, settings: carrier.ChannelSettings) -> c.CmppConnect:
        connect = connect_request(settings.account, settings.password, self._clock(), self.version)
        self._last_connect = connect
        return connect

    def login_status(self, response: c.Pdu) -> int:
        if not isinstance(response, c.CmppConnectResp):
            raise ProtocolError(f"login answered with {type(response).__name__}")
        if response.status == 0 and self._last_connect is not None:
            self._check_ismg(response, self._last_connect)
        return response.status

    def _check_ismg(self, response: c.CmppConnectResp, connect: c.CmppConnect) -> None:
        # Many gateways get AuthenticatorISMG wrong; a mismatch is logged, never fatal.
        expected = authenticator_ismg(
            response.status, connect.authenticator_source, self.settings.password, response.version
        )
        if expected != response.authenticator_ismg:
            log.info("%s: AuthenticatorISMG does not match", self.settings.host)

    def submit_requests(
        self, message: carrier.OutboundMessage, segments: list[Segment]
    ) -> list[c.Pdu]:
        settings = self.settings
        report = (
            c.CmppRegisteredDelivery.YES if message.want_report else c.CmppRegisteredDelivery.NO
        )
        return [
            c.CmppSubmit(
                version=self.version,
                pk_total=segment.total,
                pk_number=segment.number,
                registered_delivery=report,
                msg_level=self._msg_level,
                service_id=settings.service_id,
                fee_user_type=self._fee_user_type,
                fee_terminal_id=self._fee_terminal_id,
                tp_udhi=1 if segment.has_udh else 0,
                msg_fmt=segment.coding,
                msg_src=settings.sp_code or settings.account,
                fee_type=self._fee_type,
                fee_code=self._fee_code,
                src_id=message.source,
                dest_terminal_ids=(message.destination,),
                msg_content=segment.user_data,
            )
            for segment in segments
        ]

    def submit_outcome(self, response: c.Pdu) -> carrier.SubmitOutcome:
        if not isinstance(response, c.CmppSubmitResp):
            raise ProtocolError(f"submit answered with {type(response).__name__}")
        accepted = response.result == c.CmppSubmitResult.OK
        return carrier.SubmitOutcome(
            status=response.result,
            carrier_id=canonical_id(response.msg_id) if accepted else "",
            retryable=response.result == c.CmppSubmitResult.FLOW_CONTROL,
        )

    def inbound(self, request: c.Pdu) -> tuple[c.Pdu | None, carrier.Inbound | None]:
        if not isinstance(request, c.CmppDeliver):
            return None, None
        if request.registered_delivery == c.CmppRegisteredDelivery.YES:
            try:
                report = CmppStatusReport.decode(request.msg_content)
            except ProtocolError as error:
                log.warning("unreadable status report: %s", error)
                return _deliver_resp(request, c.CmppDeliverResult.BAD_STRUCTURE), None
            return _deliver_resp(request, c.CmppDeliverResult.OK), carrier.CarrierReport.final(
                "cmpp",
                canonical_id(report.msg_id),
                report.dest_terminal_id,
                report.stat,
                report.done_time,
            )
        mo = carrier.CarrierMO.decoded(
            request.src_terminal_id,
            request.dest_id,
            request.msg_content,
            request.msg_fmt,
            udh=bool(request.tp_udhi & 1),
        )
        return _deliver_resp(request, c.CmppDeliverResult.OK), mo


def _deliver_resp(request: c.CmppDeliver, result: int) -> c.CmppDeliverResp:
    return c.CmppDeliverResp(
        sequence_id=request.sequence_id,
        version=request.version,
        msg_id=request.msg_id,
        result=result,
    )


def open_client(
    settings: carrier.ChannelSettings, on_inbound: carrier.InboundHandler
) -> carrier.CarrierClient:
    """A reconnecting CMPP client for one gateway account (call ``start()`` on it)."""
    return carrier.CarrierSessionClient[c.Pdu](CmppAdapter(settings), settings, on_inbound)
