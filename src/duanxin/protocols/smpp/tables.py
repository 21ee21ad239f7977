"""The declarative field table of every SMPP PDU: which fields, in which order, of which kind.

The codec compiles these tables into encode and decode steps; they are also the reference
the tests use to generate every PDU. Field names match the dataclasses in :mod:`.pdu`.
"""

from __future__ import annotations

from dataclasses import dataclass

from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.pdu import Pdu

__all__ = [
    "FIELDS",
    "U8",
    "U16",
    "U32",
    "CString",
    "Int",
    "ShortMessage",
    "Spec",
    "SubmitMultiDests",
    "Table",
    "Tlvs",
    "UnsuccessList",
]


@dataclass(frozen=True, slots=True)
class Int:
    """Unsigned big-endian integer of 1, 2 or 4 bytes (``struct`` code B, H or I)."""

    code: str


@dataclass(frozen=True, slots=True)
class CString:
    """C-octet string; ``max_size`` includes the NUL."""

    max_size: int


class ShortMessage:
    """``sm_length`` (1 byte) followed by that many octets."""


class SubmitMultiDests:
    """``number_of_dests`` (1 byte) and the dest_address list of submit_multi."""


class UnsuccessList:
    """``no_unsuccess`` (1 byte) and the unsuccess_sme list of submit_multi_resp."""


class Tlvs:
    """Optional parameters up to the end of the PDU."""


U8, U16, U32 = Int("B"), Int("H"), Int("I")
Spec = (
    Int | CString | type[ShortMessage] | type[SubmitMultiDests] | type[UnsuccessList] | type[Tlvs]
)
Table = tuple[tuple[str, Spec], ...]

_BIND: Table = (
    ("system_id", CString(p.SYSTEM_ID_SIZE)),
    ("password", CString(p.PASSWORD_SIZE)),
    ("system_type", CString(p.SYSTEM_TYPE_SIZE)),
    ("interface_version", U8),
    ("addr_ton", U8),
    ("addr_npi", U8),
    ("address_range", CString(p.ADDRESS_RANGE_SIZE)),
)
_BIND_RESP: Table = (("system_id", CString(p.SYSTEM_ID_SIZE)), ("tlvs", Tlvs))
_MESSAGE_ID_RESP: Table = (("message_id", CString(p.MESSAGE_ID_SIZE)), ("tlvs", Tlvs))
_SOURCE: Table = (
    ("source_addr_ton", U8),
    ("source_addr_npi", U8),
    ("source_addr", CString(p.ADDRESS_SIZE)),
)
_DEST: Table = (
    ("dest_addr_ton", U8),
    ("dest_addr_npi", U8),
    ("destination_addr", CString(p.ADDRESS_SIZE)),
)
_MESSAGE_TAIL: Table = (
    ("esm_class", U8),
    ("protocol_id", U8),
    ("priority_flag", U8),
    ("schedule_delivery_time", CString(p.TIME_SIZE)),
    ("validity_period", CString(p.TIME_SIZE)),
    ("registered_delivery", U8),
    ("replace_if_present_flag", U8),
    ("data_coding", U8),
    ("sm_default_msg_id", U8),
    ("short_message", ShortMessage),
    ("tlvs", Tlvs),
)
_SHORT_MESSAGE: Table = (
    ("service_type", CString(p.SERVICE_TYPE_SIZE)),
    *_SOURCE,
    *_DEST,
    *_MESSAGE_TAIL,
)

FIELDS: dict[type[Pdu], Table] = {
    p.GenericNack: (),
    p.BindTransmitter: _BIND,
    p.BindReceiver: _BIND,
    p.BindTransceiver: _BIND,
    p.BindTransmitterResp: _BIND_RESP,
    p.BindReceiverResp: _BIND_RESP,
    p.BindTransceiverResp: _BIND_RESP,
    p.Outbind: (("system_id", CString(p.SYSTEM_ID_SIZE)), ("password", CString(p.PASSWORD_SIZE))),
    p.QuerySm: (("message_id", CString(p.MESSAGE_ID_SIZE)), *_SOURCE),
    p.QuerySmResp: (
        ("message_id", CString(p.MESSAGE_ID_SIZE)),
        ("final_date", CString(p.TIME_SIZE)),
        ("message_state", U8),
        ("error_code", U8),
        ("tlvs", Tlvs),
    ),
    p.SubmitSm: _SHORT_MESSAGE,
    p.SubmitSmResp: _MESSAGE_ID_RESP,
    p.DeliverSm: _SHORT_MESSAGE,
    p.DeliverSmResp: _MESSAGE_ID_RESP,
    p.Unbind: (),
    p.UnbindResp: (),
    p.ReplaceSm: (
        ("message_id", CString(p.MESSAGE_ID_SIZE)),
        *_SOURCE,
        ("schedule_delivery_time", CString(p.TIME_SIZE)),
        ("validity_period", CString(p.TIME_SIZE)),
        ("registered_delivery", U8),
        ("sm_default_msg_id", U8),
        ("short_message", ShortMessage),
    ),
    p.ReplaceSmResp: (),
    p.CancelSm: (
        ("service_type", CString(p.SERVICE_TYPE_SIZE)),
        ("message_id", CString(p.MESSAGE_ID_SIZE)),
        *_SOURCE,
        *_DEST,
    ),
    p.CancelSmResp: (),
    p.EnquireLink: (),
    p.EnquireLinkResp: (),
    p.SubmitMulti: (
        ("service_type", CString(p.SERVICE_TYPE_SIZE)),
        *_SOURCE,
        ("dest_addresses", SubmitMultiDests),
        *_MESSAGE_TAIL,
    ),
    p.SubmitMultiResp: (
        ("message_id", CString(p.MESSAGE_ID_SIZE)),
        ("unsuccess_smes", UnsuccessList),
        ("tlvs", Tlvs),
    ),
    p.AlertNotification: (
        ("source_addr_ton", U8),
        ("source_addr_npi", U8),
        ("source_addr", CString(p.LONG_ADDRESS_SIZE)),
        ("esme_addr_ton", U8),
        ("esme_addr_npi", U8),
        ("esme_addr", CString(p.LONG_ADDRESS_SIZE)),
        ("tlvs", Tlvs),
    ),
    p.DataSm: (
        ("service_type", CString(p.SERVICE_TYPE_SIZE)),
        ("source_addr_ton", U8),
        ("source_addr_npi", U8),
        ("source_addr", CString(p.LONG_ADDRESS_SIZE)),
        ("dest_addr_ton", U8),
        ("dest_addr_npi", U8),
        ("destination_addr", CString(p.LONG_ADDRESS_SIZE)),
        ("esm_class", U8),
        ("registered_delivery", U8),
        ("data_coding", U8),
        ("tlvs", Tlvs),
    ),
    p.DataSmResp: _MESSAGE_ID_RESP,
}
