"""SMGP 3.0 PDUs: command ids, status codes, optional parameters and one dataclass per PDU.

Every PDU carries its header ``sequence_id``; the command id follows from the class name
(``SmgpSubmitResp`` is ``SUBMIT_RESP``). Message ids stay raw (10 BCD bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Annotated

from duanxin.protocols.core import table
from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.query import AUTHENTICATOR_SIZE, Content, Digest, QueryCounters, Word
from duanxin.protocols.core.table import Byte, Items, Octets, Reserved, SequenceIdHeader, Text, Tlvs

__all__ = [
    "CommandId",
    "LoginMode",
    "MsgFormat",
    "Pdu",
    "SmgpActiveTest",
    "SmgpActiveTestResp",
    "SmgpDeliver",
    "SmgpDeliverResp",
    "SmgpExit",
    "SmgpExitResp",
    "SmgpLogin",
    "SmgpLoginResp",
    "SmgpQuery",
    "SmgpQueryResp",
    "SmgpStatus",
    "SmgpSubmit",
    "SmgpSubmitResp",
    "Tlv",
    "TlvTag",
]

SMGP_VERSION = 0x30
MSG_ID_SIZE = 10


class CommandId(IntEnum):
    """RequestID values an SP sends or is sent (the route, payment and forward commands
    between gateways are left out: decoded as unknown); a response has the top bit set."""

    LOGIN = 0x00000001
    LOGIN_RESP = 0x80000001
    SUBMIT = 0x00000002
    SUBMIT_RESP = 0x80000002
    DELIVER = 0x00000003
    DELIVER_RESP = 0x80000003
    ACTIVE_TEST = 0x00000004
    ACTIVE_TEST_RESP = 0x80000004
    EXIT = 0x00000006
    EXIT_RESP = 0x80000006
    QUERY = 0x00000007
    QUERY_RESP = 0x80000007


class SmgpStatus(IntEnum):
    """Status codes of Login_Resp, Submit_Resp, Deliver_Resp (§9 of the notes)."""

    OK = 0
    SYSTEM_BUSY = 1
    TOO_MANY_CONNECTIONS = 2
    BAD_STRUCTURE = 10
    BAD_COMMAND = 11
    DUPLICATE_SEQUENCE = 12
    BAD_IP_ADDRESS = 20
    AUTHENTICATION_ERROR = 21
    VERSION_TOO_HIGH = 22
    ILLEGAL_MSG_TYPE = 30
    ILLEGAL_PRIORITY = 31
    ILLEGAL_FEE_TYPE = 32
    ILLEGAL_FEE_CODE = 33
    ILLEGAL_MSG_FORMAT = 34
    ILLEGAL_TIME_FORMAT = 35
    ILLEGAL_MSG_LENGTH = 36
    VALIDITY_PAST = 37
    ILLEGAL_QUERY_TYPE = 38
    ROUTING_ERROR = 39
    ILLEGAL_FIXED_FEE = 40
    ILLEGAL_UPDATE_TYPE = 41
    ILLEGAL_ROUTE_ID = 42
    ILLEGAL_SERVICE_ID = 43
    ILLEGAL_VALID_TIME = 44
    ILLEGAL_AT_TIME = 45
    ILLEGAL_SRC_TERM_ID = 46
    ILLEGAL_DEST_TERM_ID = 47
    ILLEGAL_CHARGE_TERM_ID = 48
    ILLEGAL_SP_CODE = 49
    ILLEGAL_M_SERVICE_ID = 73
    OUTSIDE_PERMITTED_HOURS = 74
    DAILY_VOLUME_EXCEEDED = 75
    ACCOUNT_EXPIRED = 76

    @property
    def retryable(self) -> bool:
        """Worth trying again later (back off, reconnect, or wait for the next window)."""
        return self in _RETRYABLE


_RETRYABLE = frozenset(
    {
        SmgpStatus.SYSTEM_BUSY,
        SmgpStatus.TOO_MANY_CONNECTIONS,
        SmgpStatus.OUTSIDE_PERMITTED_HOURS,
        SmgpStatus.DAILY_VOLUME_EXCEEDED,
    }
)


class LoginMode(IntEnum):
    """Login LoginMode: what the connection carries."""

    SEND = 0  # the SP only submits
    RECEIVE = 1  # the SMGW only delivers MO and reports
    TRANSMIT = 2  # both on one connection


class MsgFormat(IntEnum):
    """MsgFormat: the encoding of MsgContent."""

    ASCII = 0
    SIM_WRITE = 3
    BINARY = 4
    UCS2 = 8
    GB18030 = 15
    USIM = 0xF6


class TlvTag(IntEnum):
    """Optional parameter tags (§8)."""

    TP_PID = 0x0001
    TP_UDHI = 0x0002
    LINK_ID = 0x0003
    CHARGE_USER_TYPE = 0x0004
    CHARGE_TERM_TYPE = 0x0005
    CHARGE_TERM_PSEUDO = 0x0006
    DEST_TERM_TYPE = 0x0007
    DEST_TERM_PSEUDO = 0x0008
    PK_TOTAL = 0x0009
    PK_NUMBER = 0x000A
    SUBMIT_MSG_TYPE = 0x000B
    SP_DEAL_RESULT = 0x000C
    SRC_TERM_TYPE = 0x000D
    SRC_TERM_PSEUDO = 0x000E
    NODES_COUNT = 0x000F
    MSG_SRC = 0x0010
    SRC_TYPE = 0x0011
    M_SERVICE_ID = 0x0012


#: Fixed value size of each known tag (most are one byte); ``None`` where it is variable.
TLV_VALUE_SIZES: dict[TlvTag, int | None] = {
    **dict.fromkeys(TlvTag, 1),
    **dict.fromkeys((TlvTag.CHARGE_TERM_PSEUDO, TlvTag.DEST_TERM_PSEUDO, TlvTag.SRC_TERM_PSEUDO)),
    TlvTag.LINK_ID: 20,
    TlvTag.MSG_SRC: 8,
    TlvTag.M_SERVICE_ID: 21,
}


@dataclass(frozen=True, slots=True)
class Tlv(table.Tlv):
    """One optional parameter; ``tag`` stays an ``int`` so unknown tags survive a round trip."""

    @classmethod
    def of(cls, tag: TlvTag, value: int | str | bytes) -> Tlv:
        """Build a known parameter: integers as one byte, text NUL-padded to the tag's size."""
        if isinstance(value, int):
            if not 0 <= value <= 0xFF:
                raise LocalProtocolError(f"TLV {tag.name} value {value} is not one byte")
            return cls(tag, bytes((value,)))
        try:
            raw = value.encode("ascii") if isinstance(value, str) else value
        except UnicodeEncodeError as error:
            raise LocalProtocolError(f"TLV {tag.name} text must be ASCII") from error
        size = TLV_VALUE_SIZES.get(tag)
        if size is not None and len(raw) > size:
            raise LocalProtocolError(f"TLV {tag.name} is {len(raw)} bytes, at most {size}")
        return cls(tag, raw if size is None else raw.ljust(size, b"\0"))

    @property
    def name(self) -> str:
        """The tag's name, or its hex value when the tag is unknown."""
        try:
            return TlvTag(self.tag).name
        except ValueError:
            return f"0x{self.tag:04x}"


RESERVE_SIZE = 8
TERM_ID = Text(21)
TermId = Annotated[str, TERM_ID]
Time = Annotated[str, Text(17)]  # ValidTime / AtTime
QueryTime = Annotated[str, Text(8)]  # YYYYMMDD
QueryCode = Annotated[str, Text(10)]
Fee = Annotated[str, Text(6)]  # FeeCode / FixedFee
MsgId = Annotated[bytes, Octets(MSG_ID_SIZE)]
#: Submit and Deliver: 8 reserved bytes, then optional parameters up to PacketLength.
Options = Annotated[tuple[Tlv, ...], Reserved(RESERVE_SIZE), Tlvs(Tlv)]


class SmgpLogin(SequenceIdHeader):
    client_id: Annotated[str, Text(8)]
    authenticator_client: Digest
    login_mode: Byte = LoginMode.TRANSMIT
    timestamp: Word  # MMDDHHMMSS as a number
    client_version: Byte = SMGP_VERSION


class SmgpLoginResp(SequenceIdHeader):
    status: Word
    authenticator_server: Digest = bytes(AUTHENTICATOR_SIZE)
    server_version: Byte = SMGP_VERSION


class SmgpSubmit(SequenceIdHeader):
    msg_type: Byte = 6  # MT
    need_report: Byte = 1
    priority: Byte = 1
    service_id: Annotated[str, Text(10)] = ""
    fee_type: Annotated[str, Text(2)] = "00"
    fee_code: Fee = "000000"
    fixed_fee: Fee = "000000"
    msg_format: Byte = MsgFormat.ASCII
    valid_time: Time = ""
    at_time: Time = ""
    src_term_id: TermId = ""
    charge_term_id: TermId = ""
    dest_term_ids: Annotated[tuple[str, ...], Items(TERM_ID, 0, 100)] = ()
    msg_content: Content = b""
    tlvs: Options = ()


class SmgpSubmitResp(SequenceIdHeader):
    msg_id: MsgId = bytes(MSG_ID_SIZE)
    status: Word


class SmgpDeliver(SequenceIdHeader):
    """An MO message (``is_report`` 0) or a status report (1, see :mod:`.report`)."""

    msg_id: MsgId = bytes(MSG_ID_SIZE)
    is_report: Byte = 0
    msg_format: Byte = MsgFormat.ASCII
    recv_time: Annotated[str, Text(14)] = ""  # YYYYMMDDHHMMSS
    src_term_id: TermId = ""
    dest_term_id: TermId = ""
    msg_content: Content = b""
    tlvs: Options = ()


class SmgpDeliverResp(SequenceIdHeader):
    msg_id: MsgId = bytes(MSG_ID_SIZE)
    status: Word


class SmgpActiveTest(SequenceIdHeader): ...


class SmgpActiveTestResp(SequenceIdHeader): ...


class SmgpExit(SequenceIdHeader): ...


class SmgpExitResp(SequenceIdHeader): ...


class SmgpQuery(SequenceIdHeader):
    query_time: QueryTime
    query_type: Byte = 0  # 0 totals, 1 by service code
    query_code: QueryCode = ""


class SmgpQueryResp(QueryCounters):
    query_time: QueryTime
    query_type: Byte = 0
    query_code: QueryCode = ""
    mt_tlmsg: Word = 0
    mt_tlusr: Word = 0


Pdu = (
    SmgpLogin
    | SmgpLoginResp
    | SmgpSubmit
    | SmgpSubmitResp
    | SmgpDeliver
    | SmgpDeliverResp
    | SmgpActiveTest
    | SmgpActiveTestResp
    | SmgpExit
    | SmgpExitResp
    | SmgpQuery
    | SmgpQueryResp
)
