"""SGIP 1.2 codec: the tables of :mod:`.pdu`, run by the shared engine.

Trace_Resp's node entries are counted from the bytes present (implementations send one
whatever Count says). Errors carry a section-7 Result: 8 for lengths that do not add up,
5 for out-of-range counts, 30 for commands we do not serve.
"""

from __future__ import annotations

import typing
from functools import partial

from duanxin.protocols.core import codec
from duanxin.protocols.core.table import Custom, Fault, Items, Malformed, Record, declared, table_of
from duanxin.protocols.core.table import FrameError as FrameError
from duanxin.protocols.sgip import pdu as s
from duanxin.protocols.sgip.pdu import MAX_PDU_SIZE as MAX_PDU_SIZE
from duanxin.protocols.sgip.pdu import CommandId, Pdu, Result

__all__ = ["MAX_PDU_SIZE", "Decoder", "FrameError", "decode", "encode"]

_NODE = Record(s.TraceNode, table_of(s.TraceNode))
_NODE_SIZE = _NODE.fields.fixed_size


def _read_nodes(frame: bytes, offset: int, end: int, out: list[object]) -> int:
    if offset >= end:
        raise Malformed("body too short for Count")
    entries, remainder = divmod(end - offset - 1 - s.RESERVE_SIZE, _NODE_SIZE)
    if entries < 0 or remainder:
        raise Malformed("Trace_Resp body is not whole node entries")
    nodes: list[object] = []
    offset += 1
    for _ in range(entries):
        offset = _NODE.read(frame, offset, end, nodes)
    out.append(tuple(nodes))
    return offset


_NODES = Custom(Items(_NODE).write, _read_nodes)
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
