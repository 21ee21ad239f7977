"""The SMPP carrier client: an ESME binding to an SMSC (transceiver by default).

Channel knobs in ``ChannelSettings.extra``:

``bind_type``        "transceiver" (default), "transmitter" or "receiver"
``system_type``      bind system_type (default empty); ``address_range`` likewise
``source_ton`` / ``source_npi``   numbering of source_addr (default 0 / 1 for digits,
                     5 / 0 for alphanumeric senders)
``country_code``     prefixed to 11-digit mainland numbers, sent as TON 1 / NPI 1 ("86")
``long_messages``    "udh" (default: UDH in short_message, esm_class 0x40) or "sar"
                     (sar_* TLVs, no UDH)

``ChannelSettings.alphabet`` (the channel setting ``alphabet``) is the SMSC's default
alphabet: how text with data_coding 0 is encoded on submit and read in an MO.
"""

from __future__ import annotations

import logging

from duanxin.domain.encoding import Alphabet, decode_text
from duanxin.domain.numbers import with_country_code
from duanxin.domain.segments import ConcatInfo, Segment, parse_udh
from duanxin.protocols import carrier
from duanxin.protocols.core.sequence import Backoff
from duanxin.protocols.core.state import Role
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.dialect import BIND_CLASSES, BindType, SmppDialect, response_to
from duanxin.protocols.smpp.pdu import CommandStatus, MessageState, Pdu
from duanxin.protocols.smpp.receipt import (
    STAT_TEXT,
    DeliverKind,
    deliver_kind,
    is_final_receipt,
    parse_receipt,
    parse_receipt_time,
)
from duanxin.protocols.smpp.tlv import Tlv, TlvTag, int_tlv, tlv_int, tlv_text

log = logging.getLogger(__name__)

TON_UNKNOWN, TON_INTERNATIONAL, TON_ALPHANUMERIC = 0, 1, 5
NPI_UNKNOWN, NPI_ISDN = 0, 1
SAR_REF_SIZE, SAR_COUNT_SIZE = 2, 1

RETRYABLE = frozenset(
    {
        CommandStatus.ESME_RTHROTTLED,
        CommandStatus.ESME_RMSGQFUL,
        CommandStatus.ESME_RSYSERR,
        CommandStatus.ESME_RX_T_APPN,
    }
)


def canonical_id(message_id: str) -> str:
    """The canonical carrier id: the SMSC's message_id as it wrote it, whitespace stripped.

    It is the submit_sm_resp ``message_id`` on submit; on a receipt, the
    ``receipted_message_id`` TLV, else the ``id:`` of the receipt text. Ids written in another
    base (hex in the response, decimal in the receipt) are matched by the platform.
    """
    return message_id.strip()


def message_body(pdu: p.SubmitSm | p.DeliverSm | p.DataSm) -> bytes:
    """The user data: short_message, or the message_payload TLV when that is empty."""
    short = b"" if isinstance(pdu, p.DataSm) else pdu.short_message
    if short:
        return short
    for tlv in pdu.tlvs:
        if tlv.tag == TlvTag.MESSAGE_PAYLOAD:
            return tlv.value
    return b""


def user_data(pdu: p.SubmitSm | p.DeliverSm | p.DataSm) -> tuple[ConcatInfo | None, bytes]:
    """Concatenation info and the text bytes: from the UDH when esm_class says there is
    one, else from the sar_* TLVs."""
    body = message_body(pdu)
    if pdu.esm_class & p.ESM_UDHI:
        return parse_udh(body)
    return sar_concat(pdu.tlvs), body


def sar_concat(tlvs: tuple[Tlv, ...]) -> ConcatInfo | None:
    """Concatenation info from the sar_* TLVs, when all three are present."""
    reference = tlv_int(tlvs, TlvTag.SAR_MSG_REF_NUM)
    total = tlv_int(tlvs, TlvTag.SAR_TOTAL_SEGMENTS)
    number = tlv_int(tlvs, TlvTag.SAR_SEGMENT_SEQNUM)
    if reference is None or total is None or number is None:
        return None
    return ConcatInfo(reference, total, number)


def report_stat(message_state: int | None, text_stat: str) -> str:
    """The 7-character stat of a receipt.

    The message_state TLV decides success or failure when present; for a failure the text's
    own stat is kept when it says more (a vendor code such as ``MA:0001``).
    """
    text_stat = text_stat.upper()
    delivered = STAT_TEXT[MessageState.DELIVERED]
    if message_state not in _STATE_VALUES:
        return text_stat or STAT_TEXT[MessageState.UNKNOWN]
    stat = STAT_TEXT[MessageState(message_state)]
    if stat != delivered and text_stat and text_stat != delivered:
        return text_stat
    return stat


_STATE_VALUES = frozenset(MessageState)


def receipt_report(pdu: p.DeliverSm | p.DataSm) -> carrier.CarrierReport | None:
    """The report a delivery receipt carries; None while it is not final (ENROUTE) or when
    it names no message."""
    receipt = parse_receipt(message_body(pdu).decode("latin-1"))
    message_id = tlv_text(pdu.tlvs, TlvTag.RECEIPTED_MESSAGE_ID) or (
        receipt.message_id if receipt else None
    )
    if not message_id:
        log.warning("receipt without a message id from %s", pdu.source_addr)
        return None
    state = tlv_int(pdu.tlvs, TlvTag.MESSAGE_STATE)
    text_stat = receipt.stat if receipt else ""
    if not is_final_receipt(state, text_stat):
        return None  # the final receipt that follows decides the report
    done = parse_receipt_time(receipt.done_date) if receipt else None
    return carrier.CarrierReport(
        canonical_id(message_id), pdu.source_addr, report_stat(state, text_stat), done
    )


def _mo(pdu: p.DeliverSm | p.DataSm, alphabet: Alphabet) -> carrier.CarrierMO:
    concat, body = user_data(pdu)
    text = decode_text(body, pdu.data_coding, alphabet)
    return carrier.CarrierMO(pdu.source_addr, pdu.destination_addr, text, concat)


class SmppAdapter:
    """SMPP's part of a :class:`CarrierSessionClient`."""

    def __init__(self, settings: carrier.ChannelSettings) -> None:
        self.settings = settings
        self.bind_type = BindType(settings.str_knob("bind_type", "transceiver"))
        self.country_code = settings.str_knob("country_code", "86")
        self.use_sar = settings.str_knob("long_messages", "udh") == "sar"
        # (TON, NPI) of a digits-only source and of an alphanumeric one, read once.
        self._numbering = {
            digits: (settings.int_knob("source_ton", ton), settings.int_knob("source_npi", npi))
            for digits, (ton, npi) in (
                (True, (TON_UNKNOWN, NPI_ISDN)),
                (False, (TON_ALPHANUMERIC, NPI_UNKNOWN)),
            )
        }

    def new_dialect(self) -> SmppDialect:
        return SmppDialect(Role.CLIENT)

    def login_request(self, settings: carrier.ChannelSettings) -> Pdu:
        return BIND_CLASSES[self.bind_type](
            system_id=settings.account,
            password=settings.password,
            system_type=settings.str_knob("system_type", ""),
            address_range=settings.str_knob("address_range", ""),
        )

    def login_status(self, response: Pdu) -> int:
        return response.command_status

    def submit_requests(
        self, message: carrier.OutboundMessage, segments: list[Segment]
    ) -> list[Pdu]:
        return [self._submit(message, segment) for segment in segments]

    def _submit(self, message: carrier.OutboundMessage, segment: Segment) -> Pdu:
        source_ton, source_npi = self._numbering[message.source.isdigit()]
        destination = with_country_code(message.destination, self.country_code)
        esm_class = 0
        data = segment.user_data
        tlvs: tuple[Tlv, ...] = ()
        if segment.has_udh and self.use_sar:
            concat, data = parse_udh(data)
            if concat is not None:
                tlvs = (
                    int_tlv(TlvTag.SAR_MSG_REF_NUM, concat.reference, SAR_REF_SIZE),
                    int_tlv(TlvTag.SAR_TOTAL_SEGMENTS, concat.total, SAR_COUNT_SIZE),
                    int_tlv(TlvTag.SAR_SEGMENT_SEQNUM, concat.number, SAR_COUNT_SIZE),
                )
        elif segment.has_udh:
            esm_class = p.ESM_UDHI
        return p.SubmitSm(
            source_addr_ton=source_ton,
            source_addr_npi=source_npi,
            source_addr=message.source,
            dest_addr_ton=TON_INTERNATIONAL,
            dest_addr_npi=NPI_ISDN,
            destination_addr=destination,
            esm_class=esm_class,
            registered_delivery=p.RECEIPT_ON_FINAL if message.want_report else 0,
            data_coding=segment.coding,
            short_message=data,
            tlvs=tlvs,
        )

    def submit_outcome(self, response: Pdu) -> carrier.SubmitOutcome:
        status = response.command_status
        if status != 0 or not isinstance(response, p.SubmitSmResp):
            return carrier.SubmitOutcome(
                status or CommandStatus.ESME_RUNKNOWNERR, "", status in RETRYABLE
            )
        return carrier.SubmitOutcome(0, canonical_id(response.message_id))

    def inbound(self, request: Pdu) -> tuple[Pdu | None, carrier.Inbound | None]:
        """Answer a PDU from the SMSC; a report only for a final delivery receipt, a reply
        only for a normal message (esm_class message type 0). Acknowledgements,
        intermediate notifications and ENROUTE receipts are answered and carry nothing."""
        if not isinstance(request, p.DeliverSm | p.DataSm):
            # alert_notification has no response; anything else the SMSC may not send us
            # was already refused by the dialect.
            if request.command_id is p.CommandId.ALERT_NOTIFICATION:
                return None, None
            return response_to(request, CommandStatus.ESME_RINVCMDID), None
        answer = response_to(request)
        kind = deliver_kind(request.esm_class)
        if kind is DeliverKind.RECEIPT:
            return answer, receipt_report(request)
        if kind is DeliverKind.MESSAGE:
            return answer, _mo(request, self.settings.alphabet)
        log.info(
            "%s: esm_class 0x%02X from %s is no reply nor report; answered, not kept",
            self.settings.host,
            request.esm_class,
            request.source_addr,
        )
        return answer, None


def open_client(
    settings: carrier.ChannelSettings,
    on_inbound: carrier.InboundHandler,
    *,
    backoff: Backoff | None = None,
) -> carrier.CarrierSessionClient[Pdu]:
    """A reconnecting SMPP client for one channel (call ``start()`` to connect)."""
    return carrier.CarrierSessionClient(
        SmppAdapter(settings), settings, on_inbound, backoff=backoff
    )
