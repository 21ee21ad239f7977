"""SGIP 1.2 PDUs: command ids, result codes, and one frozen dataclass per PDU.

Every PDU carries its header sequence number as :attr:`sequence`, a
:class:`SequenceNumber` triple (node id, MMDDHHMMSS creation time, counter). The triple is
also SGIP's only message identifier: a Report names the Submit it is about by it.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated, NamedTuple

from duanxin.protocols.core.clock import mmddhhmmss
from duanxin.protocols.core.table import U32, Byte, Bytes, Frozen, Items, Record, Text

__all__ = [
    "Bind",
    "BindResp",
    "CommandId",
    "Deliver",
    "DeliverResp",
    "FeeType",
    "LoginType",
    "MessageCoding",
    "Pdu",
    "Report",
    "ReportFlag",
    "ReportResp",
    "ReportState",
    "Result",
    "SequenceNumber",
    "Submit",
    "SubmitResp",
    "Trace",
    "TraceNode",
    "TraceResp",
    "Unbind",
    "UnbindResp",
    "UserCondition",
    "UserRpt",
    "UserRptResp",
]

NUMBER_SIZE = 21  # SPNumber, ChargeNumber, UserNumber
RESERVE_SIZE = 8
#: Largest PDU accepted: a 100-recipient Submit is 2,243 bytes before its content.
MAX_PDU_SIZE = 8 * 1024
#: ChargeNumber meaning "the SP pays": 21 ASCII zeros.
SP_PAYS = "0" * NUMBER_SIZE


class CommandId(IntEnum):
    """The SGIP 1.2 commands of an SP's links (the SMG and GNS management commands are left
    out: decoded as unknown); a response is its request OR 0x80000000."""

    BIND = 0x00000001
    UNBIND = 0x00000002
    SUBMIT = 0x00000003
    DELIVER = 0x00000004
    REPORT = 0x00000005
    USER_RPT = 0x00000011
    TRACE = 0x00001000
    BIND_RESP = 0x80000001
    UNBIND_RESP = 0x80000002
    SUBMIT_RESP = 0x80000003
    DELIVER_RESP = 0x80000004
    REPORT_RESP = 0x80000005
    USER_RPT_RESP = 0x80000011
    TRACE_RESP = 0x80001000


class Result(IntEnum):
    """Result (in ``_Resp``) and Report ErrorCode values, section 7."""

    OK = 0
    ILLEGAL_LOGIN = 1
    REPEATED_LOGIN = 2
    TOO_MANY_CONNECTIONS = 3
    BAD_LOGIN_TYPE = 4
    PARAMETER_FORMAT = 5
    ILLEGAL_MOBILE_NUMBER = 6
    MESSAGE_ID_ERROR = 7
    MESSAGE_LENGTH_ERROR = 8
    ILLEGAL_SEQUENCE = 9
    ILLEGAL_GNS_OPERATION = 10
    NODE_BUSY = 11  # flow control: too fast or queue full, retry later
    DESTINATION_UNREACHABLE = 21
    ROUTING_ERROR = 22
    ROUTE_NOT_FOUND = 23
    CHARGED_NUMBER_INVALID = 24
    USER_UNREACHABLE = 25
    HANDSET_MEMORY_FULL = 26
    HANDSET_NO_SMS = 27
    HANDSET_RECEIVE_ERROR = 28
    UNKNOWN_USER = 29
    FUNCTION_NOT_PROVIDED = 30
    ILLEGAL_DEVICE = 31
    SYSTEM_FAILURE = 32
    SMSC_QUEUE_FULL = 33


class LoginType(IntEnum):
    """Bind LoginType: which link this is (who opened it, for what)."""

    SP_TO_SMG = 1
    SMG_TO_SP = 2
    SMG_TO_SMG = 3
    SMG_TO_GNS = 4
    GNS_TO_SMG = 5
    GNS_TO_GNS = 6
    TEST = 11


class FeeType(IntEnum):
    """FeeType: how the message is charged."""

    SEND = 0
    FREE = 1
    PER_MESSAGE = 2
    MONTHLY = 3
    SP_COLLECTED = 4


class ReportFlag(IntEnum):
    """ReportFlag: when the SMG sends a Report for a Submit."""

    FAILURE_ONLY = 0
    ALWAYS = 1
    NONE = 2
    MONTHLY_FEE = 3  # not shown to the user; report required


class MessageCoding(IntEnum):
    """MessageCoding: the encoding of MessageContent."""

    ASCII = 0
    SIM_WRITE = 3
    BINARY = 4
    UCS2 = 8
    GBK = 15


class ReportState(IntEnum):
    """Report State: the outcome of the reported Submit."""

    DELIVERED = 0
    WAITING = 1
    FAILED = 2


class UserCondition(IntEnum):
    """UserRpt UserCondition: the handset's subscription state."""

    DEREGISTERED = 0
    SUSPENDED = 1
    RESTORED = 2


class SequenceNumber(NamedTuple):
    """The 12-byte header sequence: who created the command, when, and a counter."""

    node: int = 0
    time: int = 0  # MMDDHHMMSS as a decimal number
    counter: int = 0


#: The MMDDHHMMSS number of a sequence triple (20 Nov 20:32:25 -> 1120203225).
sequence_time = mmddhhmmss
_NO_SEQUENCE = SequenceNumber()
SEQUENCE = Record(SequenceNumber, (("node", U32), ("time", U32), ("counter", U32)))
Number = Annotated[str, Text(NUMBER_SIZE)]
Time = Annotated[str, Text(16)]  # ExpireTime, ScheduleTime, Trace_Resp times
Reserve = Annotated[str, Text(RESERVE_SIZE)]
Content = Annotated[bytes, Bytes("I", MAX_PDU_SIZE)]  # MessageLength is its length
Fee = Annotated[str, Text(6)]  # FeeValue, GivenValue
Users = Annotated[tuple[str, ...], Items(Text(NUMBER_SIZE), 1, 100, strict=True)]


class _Header(Frozen):
    sequence: SequenceNumber = _NO_SEQUENCE


class _Answer(_Header):
    """A response that says only its Result."""

    result: Byte = Result.OK
    reserve: Reserve = ""


class Bind(_Header):
    login_type: Byte = LoginType.SP_TO_SMG
    login_name: Annotated[str, Text(16)] = ""
    login_password: Annotated[str, Text(16)] = ""
    reserve: Reserve = ""


class BindResp(_Answer): ...


class Unbind(_Header): ...


class UnbindResp(_Header): ...


class Submit(_Header):
    """One MT message (or one segment of it) to 1..100 recipients."""

    sp_number: Number = ""
    charge_number: Number = ""
    user_numbers: Users = ()  # UserCount is their number
    corp_id: Annotated[str, Text(5)] = ""
    service_type: Annotated[str, Text(10)] = ""
    fee_type: Byte = FeeType.FREE
    fee_value: Fee = "0"
    given_value: Fee = "0"
    agent_flag: Byte = 0
    morelateto_mt_flag: Byte = 2
    priority: Byte = 0
    expire_time: Time = ""
    schedule_time: Time = ""
    report_flag: Byte = ReportFlag.ALWAYS
    tp_pid: Byte = 0
    tp_udhi: Byte = 0
    message_coding: Byte = MessageCoding.ASCII
    message_type: Byte = 0
    message_content: Content = b""
    reserve: Reserve = ""


class SubmitResp(_Answer): ...


class Deliver(_Header):
    """An MO message (or one segment of it) from a handset."""

    user_number: Number = ""
    sp_number: Number = ""
    tp_pid: Byte = 0
    tp_udhi: Byte = 0
    message_coding: Byte = MessageCoding.ASCII
    message_content: Content = b""
    reserve: Reserve = ""


class DeliverResp(_Answer): ...


class Report(_Header):
    """The outcome of an earlier Submit, named by that Submit's own sequence triple."""

    submit_sequence: Annotated[SequenceNumber, SEQUENCE] = _NO_SEQUENCE
    report_type: Byte = 0
    user_number: Number = ""
    state: Byte = ReportState.DELIVERED
    error_code: Byte = Result.OK
    reserve: Reserve = ""


class ReportResp(_Answer): ...


class UserRpt(_Header):
    sp_number: Number = ""
    user_number: Number = ""
    user_condition: Byte = UserCondition.DEREGISTERED
    reserve: Reserve = ""


class UserRptResp(_Answer): ...


class Trace(_Header):
    submit_sequence: Annotated[SequenceNumber, SEQUENCE] = _NO_SEQUENCE
    user_number: Number = ""
    reserve: Reserve = ""


class TraceNode(Frozen):
    """One node's entry in a Trace_Resp."""

    result: Byte = 0
    node_id: Annotated[str, Text(6)] = ""
    receive_time: Time = ""
    send_time: Time = ""


class TraceResp(_Header):
    nodes: tuple[TraceNode, ...] = ()  # Count is their number
    reserve: Reserve = ""


Pdu = (
    Bind
    | BindResp
    | Unbind
    | UnbindResp
    | Submit
    | SubmitResp
    | Deliver
    | DeliverResp
    | Report
    | ReportResp
    | UserRpt
    | UserRptResp
    | Trace
    | TraceResp
)
