"""SGIP 1.2 codec: the tables of :mod:`.pdu`, run by the shared engine.

Trace_Resp's node entries are counted from the bytes present (implementations send one
whatever Count says). Errors carry a section-7 Result: 8 for lengths that do not add up,
5 for out-of-range counts, 30 for commands we do not serve.
"""

from __future__ import annotations

import typing
from functools import partial

from duanxin.protocols.core import codec
from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.table import Custom, Fault, Malformed, Values, declared, table_of
from duanxin.protocols.core.table import FrameError as FrameError
from duanxin.protocols.sgip import pdu as s
from duanxin.protocols.sgip.pdu import MAX_PDU_SIZE as MAX_PDU_SIZE
from duanxin.protocols.sgip.pdu import CommandId, Pdu, Result

__all__ = ["MAX_PDU_SIZE", "Decoder", "FrameError", "decode", "encode"]

_NODE = codec.Block(s.TraceNode, table_of(s.TraceNode))


def _write_nodes(nodes: object) -> bytes:
    if not isinstance(nodes, tuple) or len(nodes) > 0xFF:
        raise LocalProtocolError("at most 255 trace nodes")
    return bytes((len(nodes),)) + b"".join(_NODE.pack(node) for node in nodes)


def _read_nodes(frame: bytes, offset: int, end: int, out: Values) -> int:
    if offset >= end:
        raise Malformed("body too short for Count")
    start = offset + 1
    entries, remainder = divmod(end - start - s.RESERVE_SIZE, _NODE.size)
    if entries < 0 or remainder:
        raise Malformed("Trace_Resp body is not whole node entries")
    stop = start + entries * _NODE.size
    size = _NODE.size
    out.append(tuple(_NODE.unpack(frame[at : at + size]) for at in range(start, stop, size)))
    return stop


_NODES = Custom(_write_nodes, _read_nodes)
CODEC: codec.Codec[Pdu] = codec.Codec(
    "SGIP",
    (("sequence", s.SEQUENCE),),
    declared(typing.get_args(Pdu), CommandId, nodes=_NODES),
    faults={
        **dict.fromkeys(Fault, Result.MESSAGE_LENGTH_ERROR),
        Fault.COUNT: Result.PARAMETER_FORMAT,
    },
    unknown_status=Result.FUNCTION_NOT_PROVIDED,
    length_status=Result.MESSAGE_LENGTH_ERROR,
)
encode = CODEC.encode
decode = CODEC.decode
#: The incremental decoder: ``Decoder()``, then ``feed`` bytes and iterate ``pdus()``.
Decoder = partial(codec.Decoder[Pdu], CODEC, MAX_PDU_SIZE)
