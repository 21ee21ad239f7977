"""SMPP 3.4 codec: the tables of :mod:`.pdu` (:data:`FIELDS`, which the tests generate
every PDU from), run by the shared engine.

A response whose command_status is not 0 goes as a bare 16-byte header (§4.1, §4.4). On
receipt both forms are accepted (many SMSCs still send a body, often a lone NUL), and an
error response's body that does not parse is ignored: the status is all it says.
"""

from __future__ import annotations

import typing
from collections.abc import Hashable
from functools import partial

from duanxin.protocols.core import codec
from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.table import U32, Custom, Fault, Malformed, Record, Table, table_of
from duanxin.protocols.core.table import FrameError as FrameError
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.pdu import SHORT_MESSAGE as SHORT_MESSAGE
from duanxin.protocols.smpp.pdu import TLVS as TLVS
from duanxin.protocols.smpp.pdu import UNSUCCESS_LIST as UNSUCCESS_LIST
from duanxin.protocols.smpp.pdu import CommandStatus, Pdu

__all__ = ["MAX_PDU_SIZE", "Decoder", "FrameError", "decode", "encode"]

MAX_PDU_SIZE = 0x10000 + 0x400  # a full message_payload TLV plus the mandatory fields
_DESTS = {
    p.DEST_FLAG_SME: Record(p.SmeAddress, table_of(p.SmeAddress)),
    p.DEST_FLAG_DISTRIBUTION_LIST: Record(p.DistributionList, table_of(p.DistributionList)),
}
_FLAGS = {record.cls: flag for flag, record in _DESTS.items()}


def _write_dests(dests: object) -> bytes:
    if not isinstance(dests, tuple) or len(dests) > 0xFF:
        raise LocalProtocolError("dest_addresses must be a tuple of at most 255")
    parts = [bytes((len(dests),))]
    for dest in dests:
        flag = _FLAGS.get(type(dest))
        if flag is None:
            raise LocalProtocolError(f"not a submit_multi destination: {dest!r}")
        parts += (bytes((flag,)), _DESTS[flag].write(dest))
    return b"".join(parts)


def _read_dests(frame: bytes, offset: int, end: int, out: list[object]) -> int:
    if offset >= end:
        raise Malformed("body ends inside number_of_dests")
    count, offset = frame[offset], offset + 1
    dests: list[object] = []
    for _ in range(count):
        if offset >= end:
            raise Malformed("body ends inside dest_flag")
        record = _DESTS.get(frame[offset])
        if record is None:
            raise Malformed(f"dest_flag {frame[offset]}", Fault.CHOICE)
        offset = record.read(frame, offset + 1, end, dests)
    out.append(tuple(dests))
    return offset


SUBMIT_MULTI_DESTS = Custom(_write_dests, _read_dests)

#: Every PDU's table, in wire order after the header: its fields' declared kinds.
FIELDS: dict[type[Pdu], Table] = {
    cls: table_of(cls, dest_addresses=SUBMIT_MULTI_DESTS) for cls in typing.get_args(Pdu)
}

_LENGTH = CommandStatus.ESME_RINVCMDLEN
CODEC: codec.Codec[Pdu] = codec.Codec(
    "SMPP",
    (("command_status", U32), ("sequence_number", U32)),
    {cls: (cls.command_id, table) for cls, table in FIELDS.items()},
    faults={
        Fault.LENGTH: _LENGTH,
        Fault.COUNT: _LENGTH,
        Fault.TLV: CommandStatus.ESME_RINVOPTPARSTREAM,
        Fault.CHOICE: CommandStatus.ESME_RINVDESTFLAG,
    },
    unknown_status=CommandStatus.ESME_RINVCMDID,
    length_status=_LENGTH,
)


def encode(pdu: Pdu) -> bytes:
    """The wire bytes of ``pdu``; a response with a non-zero status is its header alone."""
    if pdu.command_status and pdu.command_id & p.RESPONSE_BIT:
        return CODEC.encode_header(pdu)
    return CODEC.encode(pdu)


def decode(frame: bytes, variant: Hashable = None) -> Pdu:
    """Decode one whole PDU (``frame`` is exactly ``command_length`` bytes)."""
    try:
        return CODEC.decode(frame)
    except FrameError as error:
        command = error.command_id or 0
        if not isinstance(error.__cause__, Malformed) or not command & p.RESPONSE_BIT:
            raise
        status, sequence = CODEC.header_values(frame)
        if status == 0 and len(frame) > CODEC.header_size:
            raise
        # No body, or a failure's garbled one: every field keeps its default.
        make = CODEC.by_command[None][command].cls
        return make(sequence_number=sequence, command_status=status)  # type: ignore[arg-type]


#: The incremental decoder: ``Decoder()``, then ``feed`` bytes and iterate ``pdus()``.
Decoder = partial(codec.Decoder[Pdu], CODEC, MAX_PDU_SIZE, decode=decode)
