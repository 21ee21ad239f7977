"""SGIP 1.2 codec: the field table of every PDU, run by the shared engine.

SGIP's own rules: the header's sequence number is a triple (node, time, counter); Submit's
recipients are a UserCount of 1..100 and 21-byte numbers; content has a 4-byte length;
Trace_Resp's node entries are counted from the bytes present (implementations send one
whatever Count says). Errors carry a section-7 Result: 8 for lengths that do not add up,
5 for out-of-range counts, 30 for commands we do not serve (the GNS and billing-centre
commands, and unknown ids).
"""

from __future__ import annotations

from typing import Final

from duanxin.protocols.core import codec
from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.table import (
    U8,
    U32,
    Bytes,
    Custom,
    Fault,
    Items,
    Malformed,
    Record,
    Table,
)
from duanxin.protocols.core.table import FrameError as FrameError
from duanxin.protocols.core.table import Text as T
from duanxin.protocols.sgip import pdu as s
from duanxin.protocols.sgip.pdu import HEADER_SIZE, CommandId, Pdu, Result, SequenceNumber

#: Largest PDU accepted: a 100-recipient Submit is 2,243 bytes before its content.
MAX_PDU_SIZE: Final = 8 * 1024

SEQUENCE = Record(SequenceNumber, (("node", U32), ("time", U32), ("counter", U32)))
NUMBER = T(s.NUMBER_SIZE)
TIME = T(s.TIME_SIZE)
RESERVE: Table = (("reserve", T(s.RESERVE_SIZE)),)
_RESULT: Table = (("result", U8), *RESERVE)
_NODE = codec.Block(
    s.TraceNode,
    (
        ("result", U8),
        ("node_id", T(s.NODE_ID_TEXT_SIZE)),
        ("receive_time", TIME),
        ("send_time", TIME),
    ),
)


def _write_nodes(nodes: object) -> bytes:
    if not isinstance(nodes, tuple) or len(nodes) > 0xFF:
        raise LocalProtocolError("at most 255 trace nodes")
    return bytes((len(nodes),)) + b"".join(_NODE.pack(node) for node in nodes)


def _read_nodes(frame: bytes, offset: int, end: int) -> tuple[object, int]:
    if offset >= end:
        raise Malformed("body too short for Count")
    start = offset + 1
    entries, remainder = divmod(end - start - s.RESERVE_SIZE, _NODE.size)
    if entries < 0 or remainder:
        raise Malformed("Trace_Resp body is not whole node entries")
    stop = start + entries * _NODE.size
    size = _NODE.size
    return tuple(_NODE.unpack(frame[at : at + size]) for at in range(start, stop, size)), stop


CODEC: codec.Codec[Pdu] = codec.Codec(
    "SGIP",
    (("sequence", SEQUENCE),),
    {
        s.Bind: (
            CommandId.BIND,
            (
                ("login_type", U8),
                ("login_name", T(s.LOGIN_NAME_SIZE)),
                ("login_password", T(s.LOGIN_PASSWORD_SIZE)),
                *RESERVE,
            ),
        ),
        s.BindResp: (CommandId.BIND_RESP, _RESULT),
        s.Unbind: (CommandId.UNBIND, ()),
        s.UnbindResp: (CommandId.UNBIND_RESP, ()),
        s.Submit: (
            CommandId.SUBMIT,
            (
                ("sp_number", NUMBER),
                ("charge_number", NUMBER),
                ("user_numbers", Items("B", NUMBER, 1, s.MAX_USER_COUNT, strict=True)),
                ("corp_id", T(s.CORP_ID_SIZE)),
                ("service_type", T(s.SERVICE_TYPE_SIZE)),
                ("fee_type", U8),
                ("fee_value", T(s.FEE_SIZE)),
                ("given_value", T(s.FEE_SIZE)),
                ("agent_flag", U8),
                ("morelateto_mt_flag", U8),
                ("priority", U8),
                ("expire_time", TIME),
                ("schedule_time", TIME),
                ("report_flag", U8),
                ("tp_pid", U8),
                ("tp_udhi", U8),
                ("message_coding", U8),
                ("message_type", U8),
                ("message_content", Bytes("I", MAX_PDU_SIZE)),
                *RESERVE,
            ),
        ),
        s.SubmitResp: (CommandId.SUBMIT_RESP, _RESULT),
        s.Deliver: (
            CommandId.DELIVER,
            (
                ("user_number", NUMBER),
                ("sp_number", NUMBER),
                ("tp_pid", U8),
                ("tp_udhi", U8),
                ("message_coding", U8),
                ("message_content", Bytes("I", MAX_PDU_SIZE)),
                *RESERVE,
            ),
        ),
        s.DeliverResp: (CommandId.DELIVER_RESP, _RESULT),
        s.Report: (
            CommandId.REPORT,
            (
                ("submit_sequence", SEQUENCE),
                ("report_type", U8),
                ("user_number", NUMBER),
                ("state", U8),
                ("error_code", U8),
                *RESERVE,
            ),
        ),
        s.ReportResp: (CommandId.REPORT_RESP, _RESULT),
        s.UserRpt: (
            CommandId.USER_RPT,
            (("sp_number", NUMBER), ("user_number", NUMBER), ("user_condition", U8), *RESERVE),
        ),
        s.UserRptResp: (CommandId.USER_RPT_RESP, _RESULT),
        s.Trace: (
            CommandId.TRACE,
            (("submit_sequence", SEQUENCE), ("user_number", NUMBER), *RESERVE),
        ),
        s.TraceResp: (
            CommandId.TRACE_RESP,
            (("nodes", Custom(_write_nodes, _read_nodes)), *RESERVE),
        ),
    },
    faults={
        **dict.fromkeys(Fault, Result.MESSAGE_LENGTH_ERROR),
        Fault.COUNT: Result.PARAMETER_FORMAT,
    },
    unknown_status=Result.FUNCTION_NOT_PROVIDED,
    length_status=Result.MESSAGE_LENGTH_ERROR,
)
encode = CODEC.encode
decode = CODEC.decode


class Decoder(codec.Decoder[Pdu]):
    """SGIP's incremental decoder; a frame length out of bounds is Result 8."""

    def __init__(self, *, max_length: int = MAX_PDU_SIZE) -> None:
        super().__init__(
            decode,
            min_length=HEADER_SIZE,
            max_length=max_length,
            framing_status=Result.MESSAGE_LENGTH_ERROR,
        )
