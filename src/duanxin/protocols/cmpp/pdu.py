"""CMPP 2.0 / 3.0 PDUs: command ids, status codes and one dataclass per PDU.

One set of classes serves both versions. PDUs whose layout differs between 2.0 and 3.0
carry ``version``: the CMPP version whose layout the PDU is encoded in (see
:func:`layout_of`). Fields that exist only in 3.0 (``*_terminal_type``, ``link_id``) must
stay at their defaults in a 2.0 PDU.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated

from duanxin.protocols.core.query import AUTHENTICATOR_SIZE, Content, Digest, QueryCounters, Word
from duanxin.protocols.core.table import (
    U8,
    U32,
    U64,
    Absent,
    Byte,
    Items,
    Reserved,
    SequenceIdHeader,
    Text,
    Variant,
)

__all__ = [
    "CmppActiveTest",
    "CmppActiveTestResp",
    "CmppCancel",
    "CmppCancelResp",
    "CmppCancelResult",
    "CmppConnect",
    "CmppConnectResp",
    "CmppConnectStatus",
    "CmppDeliver",
    "CmppDeliverResp",
    "CmppDeliverResult",
    "CmppFeeUserType",
    "CmppMsgFmt",
    "CmppQuery",
    "CmppQueryResp",
    "CmppRegisteredDelivery",
    "CmppSubmit",
    "CmppSubmitResp",
    "CmppSubmitResult",
    "CmppTerminalType",
    "CmppTerminate",
    "CmppTerminateResp",
    "CmppVersion",
    "CommandId",
    "Pdu",
]


class CmppVersion(IntEnum):
    """The Version byte: high nibble major, low nibble minor."""

    V20 = 0x20
    V21 = 0x21  # "2.1", seen in the field; served with the 2.0 layout
    V30 = 0x30


def layout_of(version: int) -> CmppVersion:
    """The layout (2.0 or 3.0) a PDU of ``version`` is encoded in."""
    return CmppVersion.V30 if version >= CmppVersion.V30 else CmppVersion.V20


class CommandId(IntEnum):
    """Command_Id values an SP sends or is sent (the ISMG-to-ISMG and GNS commands are
    left out: decoded as unknown); a response is its request with the top bit set."""

    CONNECT = 0x00000001
    CONNECT_RESP = 0x80000001
    TERMINATE = 0x00000002
    TERMINATE_RESP = 0x80000002
    SUBMIT = 0x00000004
    SUBMIT_RESP = 0x80000004
    DELIVER = 0x00000005
    DELIVER_RESP = 0x80000005
    QUERY = 0x00000006
    QUERY_RESP = 0x80000006
    CANCEL = 0x00000007
    CANCEL_RESP = 0x80000007
    ACTIVE_TEST = 0x00000008
    ACTIVE_TEST_RESP = 0x80000008


class CmppConnectStatus(IntEnum):
    """CONNECT_RESP Status."""

    OK = 0
    BAD_STRUCTURE = 1
    ILLEGAL_SOURCE_ADDRESS = 2
    AUTHENTICATION_FAILED = 3
    VERSION_TOO_HIGH = 4
    OTHER_ERROR = 5  # and anything above


class CmppSubmitResult(IntEnum):
    """SUBMIT_RESP Result; only FLOW_CONTROL is worth retrying."""

    OK = 0
    BAD_STRUCTURE = 1
    BAD_COMMAND = 2
    DUPLICATE_SEQUENCE = 3
    BAD_LENGTH = 4
    BAD_FEE_CODE = 5
    MESSAGE_TOO_LONG = 6
    BAD_SERVICE_ID = 7
    FLOW_CONTROL = 8
    CHARGED_NUMBER_NOT_SERVED = 9
    BAD_SRC_ID = 10
    BAD_MSG_SRC = 11
    BAD_FEE_TERMINAL_ID = 12
    BAD_DEST_TERMINAL_ID = 13


class CmppDeliverResult(IntEnum):
    """DELIVER_RESP Result."""

    OK = 0
    BAD_STRUCTURE = 1
    BAD_COMMAND = 2
    DUPLICATE_SEQUENCE = 3
    BAD_LENGTH = 4
    BAD_FEE_CODE = 5
    MESSAGE_TOO_LONG = 6
    BAD_SERVICE_ID = 7
    FLOW_CONTROL = 8
    OTHER_ERROR = 9  # and anything above


class CmppCancelResult(IntEnum):
    """CANCEL_RESP Success_Id."""

    CANCELLED = 0
    FAILED = 1


class CmppMsgFmt(IntEnum):
    """Msg_Fmt: the encoding of Msg_Content."""

    ASCII = 0
    SIM_CARD_WRITE = 3
    BINARY = 4
    UCS2 = 8
    GB = 15


class CmppRegisteredDelivery(IntEnum):
    """Registered_Delivery: in SUBMIT "report wanted", in DELIVER "this is a report"."""

    NO = 0
    YES = 1


class CmppFeeUserType(IntEnum):
    """Fee_UserType: who pays."""

    DESTINATION = 0
    SOURCE = 1
    SP = 2
    FEE_TERMINAL_ID = 3


class CmppTerminalType(IntEnum):
    """3.0 Fee_terminal_type / Dest_terminal_type / Src_terminal_type."""

    REAL = 0
    PSEUDO = 1


HEADER_SIZE = 12
SOURCE_ADDR_SIZE = 6
#: Terminal id (MSISDN) slots: 21 bytes in 2.0, 32 in 3.0.
TERMINAL_ID_SIZE = {CmppVersion.V20: 21, CmppVersion.V30: 32}
DEST_ID_SIZE = 21
STAT_SIZE = 7

_V20, _V30 = CmppVersion.V20, CmppVersion.V30
_ONLY_30 = "exists only in CMPP 3.0"
Time = Annotated[str, Text(17)]  # ValId_Time / At_Time
QueryTime = Annotated[str, Text(8)]  # YYYYMMDD
QueryCode = Annotated[str, Text(10)]
MsgId = Annotated[int, U64]
ServiceId = Annotated[str, Text(10)]
#: Status / Result / Success_Id: 1 byte in 2.0, 4 in 3.0.
Result = Annotated[int, Variant({_V20: (U8,), _V30: (U32,)})]
Terminal = Annotated[str, Variant({v: (Text(TERMINAL_ID_SIZE[v]),) for v in (_V20, _V30)})]
Terminals = Annotated[  # DestUsr_tl < 100
    tuple[str, ...],
    Variant({v: (Items(Text(TERMINAL_ID_SIZE[v]), 1, 99),) for v in (_V20, _V30)}),
]
Only30 = Annotated[int, Variant({_V20: (Absent(0, _ONLY_30),), _V30: (U8,)})]
#: 3.0's LinkID stands where 2.0 has its 8-byte Reserve.
LinkId = Annotated[str, Variant({_V20: (Reserved(8), Absent("", _ONLY_30)), _V30: (Text(20),)})]
#: The layout a PDU is encoded in, not itself on the wire.
Layout = Annotated[int, Variant({v: (Absent(v, checked=False),) for v in (_V20, _V30)})]


class CmppConnect(SequenceIdHeader):
    """SP login. ``timestamp`` is the MMDDHHMMSS number (China Standard Time)."""

    source_addr: Annotated[str, Text(SOURCE_ADDR_SIZE)]
    authenticator_source: Digest
    version: Byte = _V30
    timestamp: Word


class CmppConnectResp(SequenceIdHeader):
    """Login answer. Its own Version byte also picks its layout (Status 1 or 4 bytes)."""

    status: Result
    authenticator_ismg: Digest = bytes(AUTHENTICATOR_SIZE)
    version: Byte = _V30


class CmppTerminate(SequenceIdHeader): ...


class CmppTerminateResp(SequenceIdHeader): ...


class CmppSubmit(SequenceIdHeader):
    """One MT message (or segment) to ``dest_terminal_ids``."""

    version: Layout = _V30
    msg_id: MsgId = 0
    pk_total: Byte = 1
    pk_number: Byte = 1
    registered_delivery: Byte = 0
    msg_level: Byte = 0
    service_id: ServiceId = ""
    fee_user_type: Byte = 0
    fee_terminal_id: Terminal = ""
    fee_terminal_type: Only30 = 0  # 3.0 only
    tp_pid: Byte = 0
    tp_udhi: Byte = 0
    msg_fmt: Byte = 0
    msg_src: Annotated[str, Text(6)] = ""
    fee_type: Annotated[str, Text(2)] = ""
    fee_code: Annotated[str, Text(6)] = ""
    valid_time: Time = ""
    at_time: Time = ""
    src_id: Annotated[str, Text(21)] = ""
    dest_terminal_ids: Terminals
    dest_terminal_type: Only30 = 0  # 3.0 only
    msg_content: Content = b""
    link_id: LinkId = ""  # 3.0 only


class _MsgIdResult(SequenceIdHeader):  # SUBMIT_RESP and DELIVER_RESP
    version: Layout = _V30
    msg_id: MsgId = 0
    result: Result = 0


class CmppSubmitResp(_MsgIdResult): ...


class CmppDeliver(SequenceIdHeader):
    """An MO message, or a status report when ``registered_delivery`` is 1."""

    version: Layout = _V30
    msg_id: MsgId = 0
    dest_id: Annotated[str, Text(DEST_ID_SIZE)] = ""
    service_id: ServiceId = ""
    tp_pid: Byte = 0
    tp_udhi: Byte = 0
    msg_fmt: Byte = 0
    src_terminal_id: Terminal = ""
    src_terminal_type: Only30 = 0  # 3.0 only
    registered_delivery: Byte = 0
    msg_content: Content = b""
    link_id: LinkId = ""  # 3.0 only


class CmppDeliverResp(_MsgIdResult): ...


class CmppQuery(SequenceIdHeader):
    time: QueryTime = ""
    query_type: Byte = 0
    query_code: Annotated[QueryCode, Reserved(8)] = ""


class CmppQueryResp(QueryCounters):
    time: QueryTime = ""
    query_type: Byte = 0
    query_code: QueryCode = ""
    mt_tl_msg: Word = 0
    mt_tl_usr: Word = 0


class CmppCancel(SequenceIdHeader):
    msg_id: MsgId = 0


class CmppCancelResp(SequenceIdHeader):
    version: Layout = _V30
    success_id: Result = 0


class CmppActiveTest(SequenceIdHeader): ...


class CmppActiveTestResp(SequenceIdHeader): ...


Pdu = (
    CmppConnect
    | CmppConnectResp
    | CmppTerminate
    | CmppTerminateResp
    | CmppSubmit
    | CmppSubmitResp
    | CmppDeliver
    | CmppDeliverResp
    | CmppQuery
    | CmppQueryResp
    | CmppCancel
    | CmppCancelResp
    | CmppActiveTest
    | CmppActiveTestResp
)
