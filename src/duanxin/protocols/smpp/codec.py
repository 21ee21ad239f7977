"""SMPP 3.4 wire codec: ``encode(pdu) -> bytes`` and an incremental :class:`Decoder`.

One declarative field table per PDU class drives both directions. At import the tables are
compiled into steps: runs of adjacent integers become one precompiled ``struct.Struct``,
C-octet strings, the length-prefixed ``short_message``, submit_multi's address lists and the
trailing TLVs get a step each.

A response whose command_status is not 0 is sent as a bare 16-byte header: SMPP 3.4 §4.1
and §4.4 say the body is not returned then. On receipt both forms are accepted (many SMSCs
still send a body, often a lone NUL), and an error response's body that does not parse is
ignored: the status is all it says.

Decoding errors are :class:`SmppDecodeError` (a ``RemoteProtocolError``) carrying the status
for the generic_nack and, when the header could be read, the offending sequence number.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from duanxin.protocols.core.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from duanxin.protocols.core.framing import LengthPrefixedFramer
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp import wire
from duanxin.protocols.smpp.pdu import CommandStatus, Pdu
from duanxin.protocols.smpp.tables import (
    FIELDS,
    CString,
    Int,
    ShortMessage,
    Spec,
    SubmitMultiDests,
    Table,
    Tlvs,
    UnsuccessList,
)
from duanxin.protocols.smpp.wire import ShortBody

__all__ = [
    "MAX_PDU_SIZE",
    "Decoder",
    "SmppDecodeError",
    "decode_pdu",
    "encode",
    "is_error_response",
]

MAX_PDU_SIZE = 0x10000 + 0x400  # a full message_payload TLV plus the mandatory fields
_HEADER = struct.Struct(">IIII")


class SmppDecodeError(RemoteProtocolError):
    """A PDU that cannot be decoded; answer with generic_nack(``status``) and close."""

    def __init__(self, message: str, *, status: int, sequence_number: int | None) -> None:
        super().__init__(message, status=status, close=True)
        self.sequence_number = sequence_number


Values = dict[str, Any]


# ------------------------------------------------------------------ compilation

Writer = Callable[[Any, list[bytes]], None]
Reader = Callable[[bytes, int, int, Values], int]


def _int_run(names: list[str], codes: str) -> tuple[Writer, Reader]:
    layout = struct.Struct(">" + codes)
    get = attrgetter(*names)
    pack, unpack_from, size = layout.pack, layout.unpack_from, layout.size
    fields = tuple(names)

    if len(fields) == 1:

        def write(pdu: Any, out: list[bytes]) -> None:
            out.append(pack(get(pdu)))

    else:

        def write(pdu: Any, out: list[bytes]) -> None:
            out.append(pack(*get(pdu)))

    def read(frame: bytes, offset: int, end: int, values: Values) -> int:
        if offset + size > end:
            raise ShortBody(fields[0])
        values.update(zip(fields, unpack_from(frame, offset), strict=True))
        return offset + size

    return write, read


def _c_string(name: str, max_size: int) -> tuple[Writer, Reader]:
    def write(pdu: Any, out: list[bytes]) -> None:
        out.append(wire.put_c_string(getattr(pdu, name), max_size, name))

    def read(frame: bytes, offset: int, end: int, values: Values) -> int:
        # core.fields.decode_c_string, inlined: this is the decoder's hottest path.
        stop = frame.find(b"\x00", offset, min(offset + max_size, end))
        if stop < 0:
            raise ShortBody(f"{name} (no NUL within {max_size} bytes)")
        values[name] = frame[offset:stop].decode("latin-1")
        return stop + 1

    return write, read


def _custom(
    name: str,
    put: Callable[[Any], bytes],
    get: Callable[[bytes, int, int], tuple[Any, int]],
) -> tuple[Writer, Reader]:
    def write(pdu: Any, out: list[bytes]) -> None:
        out.append(put(getattr(pdu, name)))

    def read(frame: bytes, offset: int, end: int, values: Values) -> int:
        values[name], offset = get(frame, offset, end)
        return offset

    return write, read


def _tlv_step(name: str) -> tuple[Writer, Reader]:
    def write(pdu: Any, out: list[bytes]) -> None:
        tlvs = getattr(pdu, name)
        if tlvs:
            out.append(wire.put_tlvs(tlvs))

    def read(frame: bytes, offset: int, end: int, values: Values) -> int:
        values[name] = wire.get_tlvs(frame, offset, end)
        return end

    return write, read


def _step(name: str, spec: Spec) -> tuple[Writer, Reader]:
    if isinstance(spec, CString):
        return _c_string(name, spec.max_size)
    if spec is ShortMessage:
        return _custom(name, lambda data: wire.put_octets(data, name), wire.get_octets)
    if spec is SubmitMultiDests:
        return _custom(name, wire.put_dests, wire.get_dests)
    if spec is UnsuccessList:
        return _custom(name, wire.put_unsuccess, wire.get_unsuccess)
    if spec is Tlvs:
        return _tlv_step(name)
    raise TypeError(f"no step for {spec!r}")


@dataclass(frozen=True, slots=True)
class _Layout:
    cls: type[Pdu]
    writers: tuple[Writer, ...]
    readers: tuple[Reader, ...]
    has_tlvs: bool


def _compile(cls: type[Pdu], table: Table) -> _Layout:
    steps: list[tuple[Writer, Reader]] = []
    names: list[str] = []
    codes = ""
    for name, spec in table:
        if isinstance(spec, Int):
            names.append(name)
            codes += spec.code
            continue
        if names:
            steps.append(_int_run(names, codes))
            names, codes = [], ""
        steps.append(_step(name, spec))
    if names:
        steps.append(_int_run(names, codes))
    return _Layout(
        cls,
        tuple(w for w, _ in steps),
        tuple(r for _, r in steps),
        any(spec is Tlvs for _, spec in table),
    )


_LAYOUTS: dict[type[Pdu], _Layout] = {cls: _compile(cls, table) for cls, table in FIELDS.items()}
_BY_ID: dict[int, _Layout] = {cls.command_id: layout for cls, layout in _LAYOUTS.items()}

# --------------------------------------------------------------------- public


def is_error_response(command_id: int, command_status: int) -> bool:
    """A response that reports a failure: it carries no body on the wire (§4.1, §4.4)."""
    return bool(command_id & p.RESPONSE_BIT) and command_status != CommandStatus.ESME_ROK


def encode(pdu: Pdu) -> bytes:
    """The wire bytes of ``pdu``; raises LocalProtocolError for values SMPP cannot carry.

    A response with a non-zero command_status is encoded as its header alone.
    """
    layout = _LAYOUTS.get(type(pdu))
    if layout is None:
        raise LocalProtocolError(f"not an SMPP PDU: {type(pdu).__name__}")
    parts: list[bytes] = []
    try:
        if not is_error_response(pdu.command_id, pdu.command_status):
            for write in layout.writers:
                write(pdu, parts)
        body = b"".join(parts)
        return (
            _HEADER.pack(
                p.HEADER_SIZE + len(body), pdu.command_id, pdu.command_status, pdu.sequence_number
            )
            + body
        )
    except (struct.error, OverflowError, TypeError, AttributeError) as error:
        raise LocalProtocolError(f"cannot encode {type(pdu).__name__}: {error}") from error


def decode_pdu(frame: bytes) -> Pdu:
    """Decode one whole PDU (``frame`` is exactly ``command_length`` bytes)."""
    if len(frame) < p.HEADER_SIZE:
        raise SmppDecodeError(
            "PDU shorter than its header",
            status=CommandStatus.ESME_RINVCMDLEN,
            sequence_number=None,
        )
    length, command_id, status, sequence = _HEADER.unpack_from(frame)
    layout = _BY_ID.get(command_id)
    if layout is None:
        raise SmppDecodeError(
            f"unknown command_id 0x{command_id:08X}",
            status=CommandStatus.ESME_RINVCMDID,
            sequence_number=sequence,
        )
    if length != len(frame):
        raise SmppDecodeError(
            f"command_length {length} but {len(frame)} bytes",
            status=CommandStatus.ESME_RINVCMDLEN,
            sequence_number=sequence,
        )
    try:
        values = _read_body(layout, frame)
    except ProtocolError as error:
        if is_error_response(command_id, status):
            # A failure's body says nothing the status does not; a garbled one is dropped.
            return layout.cls(sequence_number=sequence, command_status=status)
        raise SmppDecodeError(
            f"{layout.cls.__name__}: {error}",
            status=error.status or CommandStatus.ESME_RINVCMDLEN,
            sequence_number=sequence,
        ) from error
    return layout.cls(sequence_number=sequence, command_status=status, **values)


def _read_body(layout: _Layout, frame: bytes) -> Values:
    values: Values = {}
    end = len(frame)
    offset = p.HEADER_SIZE
    if offset == end and layout.cls.command_id & p.RESPONSE_BIT:
        return values  # error responses omit the body: every field keeps its default
    for read in layout.readers:
        offset = read(frame, offset, end, values)
    if offset != end:
        raise RemoteProtocolError(
            f"{end - offset} bytes after the last field", status=CommandStatus.ESME_RINVCMDLEN
        )
    return values


class Decoder:
    """Incremental decoder: feed received bytes, then iterate :meth:`pdus`.

    ``last`` is the PDU most recently handed out (None while a frame is being decoded), so a
    session can answer a PDU it refuses for the bind state with that PDU's own response.
    """

    __slots__ = ("_framer", "last")

    def __init__(self, *, max_length: int = MAX_PDU_SIZE) -> None:
        self._framer = LengthPrefixedFramer(min_length=p.HEADER_SIZE, max_length=max_length)
        self.last: Pdu | None = None

    def feed(self, data: bytes) -> None:
        """Add bytes received from the peer."""
        self._framer.feed(data)

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole PDU."""
        return self._framer.buffered

    def pdus(self) -> Iterator[Pdu]:
        """Yield each complete PDU buffered so far; a partial PDU stays buffered."""
        frames = self._framer.frames()
        try:
            while True:
                self.last = None
                try:
                    frame = next(frames)
                except StopIteration:
                    return
                except RemoteProtocolError as error:
                    raise SmppDecodeError(
                        str(error), status=CommandStatus.ESME_RINVCMDLEN, sequence_number=None
                    ) from error
                pdu = decode_pdu(frame)
                self.last = pdu
                yield pdu
        finally:
            frames.close()
