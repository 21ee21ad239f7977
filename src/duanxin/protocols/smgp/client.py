"""The SMGP carrier client: what :class:`CarrierSessionClient` needs to speak SMGP 3.0.

Settings used: ``account`` (ClientID), ``password`` (shared secret), ``service_id``
(ServiceID), ``sp_code`` (TLV MsgSrc, when set) and ``extra``: ``login_mode`` (0 send,
1 receive, 2 both; default 2), ``fee_type``, ``fee_code``, ``fixed_fee``, ``priority``.

Carrier ids are canonical as the 20 lowercase hex digits of the 10-byte MsgID
(:func:`canonical_id`), the same for the Submit_Resp and for the report that follows.
"""

from __future__ import annotations

import logging

from duanxin.domain.segments import Segment
from duanxin.protocols import carrier
from duanxin.protocols.core.clock import Clock, china_standard_time
from duanxin.protocols.core.errors import ProtocolError
from duanxin.protocols.core.table import tlv_int
from duanxin.protocols.smgp import pdu as s
from duanxin.protocols.smgp.auth import build_login
from duanxin.protocols.smgp.dialect import SmgpDialect
from duanxin.protocols.smgp.msgid import canonical_id
from duanxin.protocols.smgp.report import decode_report

log = logging.getLogger(__name__)

MSG_TYPE_MT = 6
PRIORITY_NORMAL = 1
RETRYABLE = frozenset(status for status in s.SmgpStatus if status.retryable)


class SmgpAdapter:
    """SMGP's part of a carrier client (see :class:`duanxin.protocols.carrier.CarrierAdapter`)."""

    def __init__(
        self,
        settings: carrier.ChannelSettings,
        *,
        clock: Clock = china_standard_time,
    ) -> None:
        self.settings = settings
        self._clock = clock
        self.login_mode = settings.int_knob("login_mode", s.LoginMode.TRANSMIT)
        self._fee_type = settings.str_knob("fee_type", "00")
        self._fee_code = settings.str_knob("fee_code", "000000")
        self._fixed_fee = settings.str_knob("fixed_fee", "000000")
        self._priority = settings.int_knob("priority", PRIORITY_NORMAL)

    def new_dialect(self) -> SmgpDialect:
        return SmgpDialect()

    def login_request(self, settings: carrier.ChannelSettings) -> s.Pdu:
        return build_login(
            settings.account, settings.password, self._clock(), login_mode=self.login_mode
        )

    def login_status(self, response: s.Pdu) -> int:
        if not isinstance(response, s.SmgpLoginResp):
            return s.SmgpStatus.BAD_COMMAND
        return response.status

    def submit_requests(
        self, message: carrier.OutboundMessage, segments: list[Segment]
    ) -> list[s.Pdu]:
        """One Submit per segment, to the one destination; long ones flagged by TLVs."""
        base_tlvs: tuple[s.Tlv, ...] = ()
        if self.settings.sp_code:
            base_tlvs = (s.Tlv.of(s.TlvTag.MSG_SRC, self.settings.sp_code),)
        return [
            s.SmgpSubmit(
                msg_type=MSG_TYPE_MT,
                need_report=int(message.want_report),
                priority=self._priority,
                service_id=self.settings.service_id,
                fee_type=self._fee_type,
                fee_code=self._fee_code,
                fixed_fee=self._fixed_fee,
                msg_format=segment.coding,
                src_term_id=message.source,
                dest_term_ids=(message.destination,),
                msg_content=segment.user_data,
                tlvs=base_tlvs + _segment_tlvs(segment),
            )
            for segment in segments
        ]

    def submit_outcome(self, response: s.Pdu) -> carrier.SubmitOutcome:
        if not isinstance(response, s.SmgpSubmitResp):
            return carrier.SubmitOutcome(s.SmgpStatus.BAD_COMMAND, "")
        status = response.status
        if status != s.SmgpStatus.OK:
            return carrier.SubmitOutcome(status, "", retryable=status in RETRYABLE)
        return carrier.SubmitOutcome(status, canonical_id(response.msg_id))

    def inbound(self, request: s.Pdu) -> tuple[s.Pdu | None, carrier.Inbound | None]:
        """Answer every Deliver at once; turn it into a report or an MO segment."""
        if not isinstance(request, s.SmgpDeliver):
            return None, None
        answer = s.SmgpDeliverResp(
            sequence_id=request.sequence_id, msg_id=request.msg_id, status=s.SmgpStatus.OK
        )
        if request.is_report:
            try:
                report = decode_report(request.msg_content)
            except ProtocolError as error:
                # Answered anyway: an unreadable report resent forever helps nobody.
                log.warning("unreadable SMGP report %r: %s", request.msg_content, error)
                return answer, None
            return answer, carrier.CarrierReport.final(
                "smgp",
                canonical_id(report.msg_id),
                request.src_term_id,
                report.stat,
                report.done_date,
            )
        return answer, carrier.CarrierMO.decoded(
            request.src_term_id,
            request.dest_term_id,
            request.msg_content,
            request.msg_format,
            udh=bool(tlv_int(request.tlvs, s.TlvTag.TP_UDHI)),
        )


def _segment_tlvs(segment: Segment) -> tuple[s.Tlv, ...]:
    if not segment.has_udh:
        return ()
    return (
        s.Tlv.of(s.TlvTag.TP_UDHI, 1),
        s.Tlv.of(s.TlvTag.PK_TOTAL, segment.total),
        s.Tlv.of(s.TlvTag.PK_NUMBER, segment.number),
    )


def open_client(
    settings: carrier.ChannelSettings, on_inbound: carrier.InboundHandler
) -> carrier.CarrierClient:
    """A reconnecting SMGP client for one gateway account."""
    return carrier.CarrierSessionClient[s.Pdu](SmgpAdapter(settings), settings, on_inbound)
