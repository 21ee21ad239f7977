"""SMPP 3.4 PDUs: command ids, status codes and one frozen dataclass per PDU.

Every PDU carries the header's ``sequence_number`` and ``command_status`` (0 in requests);
``command_id`` follows from the class name (``SubmitSmResp`` is ``SUBMIT_SM_RESP``).
Optional parameters are kept as an ordered tuple of :class:`Tlv`, unknown tags included.
"""

from __future__ import annotations

import typing
from enum import IntEnum
from typing import Annotated, ClassVar

from duanxin.protocols.core.table import (
    U32,
    Byte,
    Bytes,
    CString,
    Frozen,
    Items,
    Record,
    Tlvs,
    command_ids,
    table_of,
)
from duanxin.protocols.smpp.status import CommandStatus as CommandStatus
from duanxin.protocols.smpp.status import MessageState as MessageState
from duanxin.protocols.smpp.tlv import Tlv

__all__ = [
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "CancelSm",
    "CancelSmResp",
    "CommandId",
    "CommandStatus",
    "DataSm",
    "DataSmResp",
    "DeliverSm",
    "DeliverSmResp",
    "DistributionList",
    "EnquireLink",
    "EnquireLinkResp",
    "GenericNack",
    "MessageState",
    "Outbind",
    "Pdu",
    "QuerySm",
    "QuerySmResp",
    "ReplaceSm",
    "ReplaceSmResp",
    "SmeAddress",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "Unbind",
    "UnbindResp",
    "UnsuccessSme",
]

# A C-octet string's maximum size includes its terminating NUL.
ADDRESS_SIZE = 21  # source_addr / destination_addr (65 in data_sm and alert_notification)
DL_NAME_SIZE = 21
SHORT_MESSAGE_MAX = 254  # sm_length is one byte; 255 is reserved
SHORT_MESSAGE = Bytes("B", SHORT_MESSAGE_MAX)
TLVS = Tlvs()
Address = Annotated[str, CString(ADDRESS_SIZE)]
LongAddress = Annotated[str, CString(65)]
Time = Annotated[str, CString(17)]  # YYMMDDhhmmsstnnp
MessageId = Annotated[str, CString(65)]
ShortMessage = Annotated[bytes, SHORT_MESSAGE]
Options = Annotated[tuple[Tlv, ...], TLVS]
ServiceType = Annotated[str, CString(6)]
SystemId = Annotated[str, CString(16)]
Password = Annotated[str, CString(9)]

INTERFACE_VERSION_34 = 0x34
RESPONSE_BIT = 0x80000000


class EsmMessageType(IntEnum):
    """esm_class bits 5-2 (mask 0x3C) of a deliver_sm / data_sm from the SMSC (notes §6.3)."""

    DEFAULT = 0x00  # a normal message: an MO from a handset
    DELIVERY_RECEIPT = 0x04  # SMSC delivery receipt: the only kind that is a report
    DELIVERY_ACK = 0x08  # SME delivery acknowledgement
    MANUAL_ACK = 0x10  # SME manual / user acknowledgement
    CONVERSATION_ABORT = 0x18  # Korean CDMA
    INTERMEDIATE_NOTIFICATION = 0x20  # intermediate delivery notification


class EsmFeature(IntEnum):
    """esm_class bits 7-6: GSM network features (notes §6.3)."""

    UDHI = 0x40  # short_message starts with a user data header
    REPLY_PATH = 0x80


ESM_MESSAGE_TYPE_MASK = 0x3C
ESM_DELIVERY_RECEIPT = EsmMessageType.DELIVERY_RECEIPT
ESM_UDHI = EsmFeature.UDHI

# registered_delivery (§6.4)
RECEIPT_MASK = 0x03
RECEIPT_ON_FINAL = 0x01
RECEIPT_ON_FAILURE = 0x02

DEST_FLAG_SME = 1  # submit_multi destination: an SME address
DEST_FLAG_DISTRIBUTION_LIST = 2


class CommandId(IntEnum):
    """command_id values; a response is its request with the top bit set."""

    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    QUERY_SM = 0x00000003
    QUERY_SM_RESP = 0x80000003
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    REPLACE_SM = 0x00000007
    REPLACE_SM_RESP = 0x80000007
    CANCEL_SM = 0x00000008
    CANCEL_SM_RESP = 0x80000008
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    OUTBIND = 0x0000000B
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015
    SUBMIT_MULTI = 0x00000021
    SUBMIT_MULTI_RESP = 0x80000021
    ALERT_NOTIFICATION = 0x00000102
    DATA_SM = 0x00000103
    DATA_SM_RESP = 0x80000103


class _Header(Frozen):
    command_id: ClassVar[CommandId]  # by the class name, set below
    sequence_number: int = 0
    command_status: int = 0


# ------------------------------------------------------------------ header only


class GenericNack(_Header): ...


class Unbind(_Header): ...


class UnbindResp(_Header): ...


class EnquireLink(_Header): ...


class EnquireLinkResp(_Header): ...


class CancelSmResp(_Header): ...


class ReplaceSmResp(_Header): ...


# ------------------------------------------------------------------------ binds


class _BindBody(_Header):
    system_id: SystemId = ""
    password: Password = ""
    system_type: Annotated[str, CString(13)] = ""
    interface_version: Byte = INTERFACE_VERSION_34
    addr_ton: Byte = 0
    addr_npi: Byte = 0
    address_range: Annotated[str, CString(41)] = ""


class BindTransmitter(_BindBody): ...


class BindReceiver(_BindBody): ...


class BindTransceiver(_BindBody): ...


class _BindRespBody(_Header):
    system_id: SystemId = ""
    tlvs: Options = ()


class BindTransmitterResp(_BindRespBody): ...


class BindReceiverResp(_BindRespBody): ...


class BindTransceiverResp(_BindRespBody): ...


class Outbind(_Header):
    system_id: SystemId = ""
    password: Password = ""


# --------------------------------------------------------------------- messages


class _MessageTail(_Header):
    """What submit_sm, deliver_sm and submit_multi end with, after their addresses."""

    __trailing__: ClassVar[bool] = True

    esm_class: Byte = 0
    protocol_id: Byte = 0
    priority_flag: Byte = 0
    schedule_delivery_time: Time = ""
    validity_period: Time = ""
    registered_delivery: Byte = 0
    replace_if_present_flag: Byte = 0
    data_coding: Byte = 0
    sm_default_msg_id: Byte = 0
    short_message: ShortMessage = b""
    tlvs: Options = ()


class _SourceBody(_MessageTail):  # submit_sm, deliver_sm, submit_multi: destinations differ
    service_type: ServiceType = ""
    source_addr_ton: Byte = 0
    source_addr_npi: Byte = 0
    source_addr: Address = ""


class _ShortMessageBody(_SourceBody):
    dest_addr_ton: Byte = 0
    dest_addr_npi: Byte = 0
    destination_addr: Address = ""


class SubmitSm(_ShortMessageBody): ...


class DeliverSm(_ShortMessageBody):
    """An MO message, a delivery receipt, or an acknowledgement: see :class:`EsmMessageType`."""


class _MessageIdResp(_Header):
    message_id: MessageId = ""
    tlvs: Options = ()


class SubmitSmResp(_MessageIdResp): ...


class DeliverSmResp(_MessageIdResp): ...


class DataSmResp(_MessageIdResp): ...


class DataSm(_Header):
    service_type: ServiceType = ""
    source_addr_ton: Byte = 0
    source_addr_npi: Byte = 0
    source_addr: LongAddress = ""
    dest_addr_ton: Byte = 0
    dest_addr_npi: Byte = 0
    destination_addr: LongAddress = ""
    esm_class: Byte = 0
    registered_delivery: Byte = 0
    data_coding: Byte = 0
    tlvs: Options = ()


class QuerySm(_Header):
    message_id: MessageId = ""
    source_addr_ton: Byte = 0
    source_addr_npi: Byte = 0
    source_addr: Address = ""


class QuerySmResp(_Header):
    message_id: MessageId = ""
    final_date: Time = ""
    message_state: Byte = 0
    error_code: Byte = 0
    tlvs: Options = ()


class CancelSm(_Header):
    service_type: ServiceType = ""
    message_id: MessageId = ""
    source_addr_ton: Byte = 0
    source_addr_npi: Byte = 0
    source_addr: Address = ""
    dest_addr_ton: Byte = 0
    dest_addr_npi: Byte = 0
    destination_addr: Address = ""


class ReplaceSm(_Header):
    message_id: MessageId = ""
    source_addr_ton: Byte = 0
    source_addr_npi: Byte = 0
    source_addr: Address = ""
    schedule_delivery_time: Time = ""
    validity_period: Time = ""
    registered_delivery: Byte = 0
    sm_default_msg_id: Byte = 0
    short_message: ShortMessage = b""


class _Destination(Frozen):
    dest_addr_ton: Byte = 0
    dest_addr_npi: Byte = 0
    destination_addr: Address = ""


class SmeAddress(_Destination):
    """One submit_multi destination (dest_flag 1)."""


class DistributionList(Frozen):
    """One submit_multi destination (dest_flag 2): a list kept by the SMSC."""

    dl_name: Annotated[str, CString(DL_NAME_SIZE)] = ""


class UnsuccessSme(_Destination):
    """A submit_multi destination the SMSC refused."""

    error_status_code: Annotated[int, U32] = 0


UNSUCCESS_LIST = Items(Record(UnsuccessSme, table_of(UnsuccessSme)))


class SubmitMulti(_SourceBody):
    dest_addresses: tuple[SmeAddress | DistributionList, ...] = ()


class SubmitMultiResp(_Header):
    message_id: MessageId = ""
    unsuccess_smes: Annotated[tuple[UnsuccessSme, ...], UNSUCCESS_LIST] = ()
    tlvs: Options = ()


class AlertNotification(_Header):
    source_addr_ton: Byte = 0
    source_addr_npi: Byte = 0
    source_addr: LongAddress = ""
    esme_addr_ton: Byte = 0
    esme_addr_npi: Byte = 0
    esme_addr: LongAddress = ""
    tlvs: Options = ()


Pdu = (
    GenericNack
    | BindTransmitter
    | BindTransmitterResp
    | BindReceiver
    | BindReceiverResp
    | BindTransceiver
    | BindTransceiverResp
    | Outbind
    | QuerySm
    | QuerySmResp
    | SubmitSm
    | SubmitSmResp
    | DeliverSm
    | DeliverSmResp
    | Unbind
    | UnbindResp
    | ReplaceSm
    | ReplaceSmResp
    | CancelSm
    | CancelSmResp
    | EnquireLink
    | EnquireLinkResp
    | SubmitMulti
    | SubmitMultiResp
    | AlertNotification
    | DataSm
    | DataSmResp
)

for _cls, _command in command_ids(typing.get_args(Pdu), CommandId).items():
    _cls.command_id = _command
del _cls, _command

Bind = BindTransmitter | BindReceiver | BindTransceiver
BindResp = BindTransmitterResp | BindReceiverResp | BindTransceiverResp

BIND_RESPONSE: dict[CommandId, type[BindResp]] = {
    CommandId.BIND_TRANSMITTER: BindTransmitterResp,
    CommandId.BIND_RECEIVER: BindReceiverResp,
    CommandId.BIND_TRANSCEIVER: BindTransceiverResp,
}
