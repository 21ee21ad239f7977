"""SMGP 3.0 codec: the field table of every PDU, run by the shared engine.

SMGP's own rules are few: Submit and Deliver end in a length-prefixed content, 8 reserved
bytes and optional parameters (TLVs) up to PacketLength; every malformed body is answered
with "bad message structure".
"""

from __future__ import annotations

from duanxin.protocols.core import codec
from duanxin.protocols.core.query import COUNTERS
from duanxin.protocols.core.table import (
    SEQUENCE_ID_HEADER,
    U8,
    U32,
    Bytes,
    Fault,
    Items,
    Octets,
    Reserved,
    Table,
    Text,
    Tlvs,
)
from duanxin.protocols.core.table import FrameError as FrameError
from duanxin.protocols.smgp import pdu as s
from duanxin.protocols.smgp.pdu import AUTHENTICATOR_SIZE, MSG_ID_SIZE, CommandId, Pdu, SmgpStatus

HEADER_SIZE = 12  # PacketLength, RequestID, SequenceID
# The largest legal PDU is a Submit to 100 destinations with 255 content bytes (2,481
# bytes) plus TLVs; anything far beyond that is garbage, not a message.
MAX_PDU_SIZE = 4096

TERM_ID = Text(21)
TIME = Text(17)  # ValidTime / AtTime
FEE = Text(6)  # FeeCode / FixedFee
_TAIL: Table = (
    ("msg_content", Bytes("B", 0xFF)),
    ("reserve", Reserved(8)),
    ("tlvs", Tlvs(s.Tlv)),
)
_RESULT: Table = (("msg_id", Octets(MSG_ID_SIZE)), ("status", U32))
_QUERY: Table = (("query_time", Text(8)), ("query_type", U8), ("query_code", Text(10)))
_COUNTERS = ("mt_tlmsg", "mt_tlusr", *COUNTERS)

#: Each PDU class: its command id and field table.
_PDUS: dict[type[Pdu], tuple[int, Table]] = {
    s.SmgpLogin: (
        CommandId.LOGIN,
        (
            ("client_id", Text(8)),
            ("authenticator_client", Octets(AUTHENTICATOR_SIZE)),
            ("login_mode", U8),
            ("timestamp", U32),
            ("client_version", U8),
        ),
    ),
    s.SmgpLoginResp: (
        CommandId.LOGIN_RESP,
        (
            ("status", U32),
            ("authenticator_server", Octets(AUTHENTICATOR_SIZE)),
            ("server_version", U8),
        ),
    ),
    s.SmgpSubmit: (
        CommandId.SUBMIT,
        (
            ("msg_type", U8),
            ("need_report", U8),
            ("priority", U8),
            ("service_id", Text(10)),
            ("fee_type", Text(2)),
            ("fee_code", FEE),
            ("fixed_fee", FEE),
            ("msg_format", U8),
            ("valid_time", TIME),
            ("at_time", TIME),
            ("src_term_id", TERM_ID),
            ("charge_term_id", TERM_ID),
            ("dest_term_ids", Items("B", TERM_ID, 0, 100)),
            *_TAIL,
        ),
    ),
    s.SmgpSubmitResp: (CommandId.SUBMIT_RESP, _RESULT),
    s.SmgpDeliver: (
        CommandId.DELIVER,
        (
            ("msg_id", Octets(MSG_ID_SIZE)),
            ("is_report", U8),
            ("msg_format", U8),
            ("recv_time", Text(14)),
            ("src_term_id", TERM_ID),
            ("dest_term_id", TERM_ID),
            *_TAIL,
        ),
    ),
    s.SmgpDeliverResp: (CommandId.DELIVER_RESP, _RESULT),
    s.SmgpActiveTest: (CommandId.ACTIVE_TEST, ()),
    s.SmgpActiveTestResp: (CommandId.ACTIVE_TEST_RESP, ()),
    s.SmgpExit: (CommandId.EXIT, ()),
    s.SmgpExitResp: (CommandId.EXIT_RESP, ()),
    s.SmgpQuery: (CommandId.QUERY, _QUERY),
    s.SmgpQueryResp: (
        CommandId.QUERY_RESP,
        (*_QUERY, *((name, U32) for name in _COUNTERS), ("reserve", Reserved(8))),
    ),
}
CODEC: codec.Codec[Pdu] = codec.Codec(
    "SMGP",
    SEQUENCE_ID_HEADER,
    _PDUS,
    faults=dict.fromkeys(Fault, SmgpStatus.BAD_STRUCTURE),
    unknown_status=SmgpStatus.BAD_COMMAND,
)
encode = CODEC.encode
decode = CODEC.decode


class Decoder(codec.Decoder[Pdu]):
    """SMGP's incremental decoder."""

    def __init__(self, *, max_length: int = MAX_PDU_SIZE) -> None:
        super().__init__(decode, min_length=HEADER_SIZE, max_length=max_length)
