"""SGIP 1.2 encoder and incremental decoder, driven by one field table per PDU.

Each PDU body is a sequence of *parts*: fixed blocks (compiled once into a ``struct.Struct``),
the Submit's recipient list (UserCount + 21 bytes each), a 4-byte-length message content,
and the Trace_Resp node list. The same table encodes and decodes, so the two cannot drift.

Decoding errors are :class:`RemoteProtocolError` carrying a section-7 Result: 8 for lengths
that do not add up, 5 for out-of-range counts, 30 for commands we do not serve (the GNS and
billing-centre commands, and unknown ids). Encoding errors are :class:`LocalProtocolError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Final

from duanxin.protocols.core.errors import LocalProtocolError, RemoteProtocolError
from duanxin.protocols.core.fields import decode_fixed
from duanxin.protocols.core.framing import LengthPrefixedFramer
from duanxin.protocols.sgip.pdu import (
    CORP_ID_SIZE,
    FEE_SIZE,
    HEADER_SIZE,
    LOGIN_NAME_SIZE,
    LOGIN_PASSWORD_SIZE,
    MAX_USER_COUNT,
    NODE_ID_TEXT_SIZE,
    NUMBER_SIZE,
    RESERVE_SIZE,
    SERVICE_TYPE_SIZE,
    TIME_SIZE,
    Bind,
    BindResp,
    CommandId,
    Deliver,
    DeliverResp,
    Pdu,
    Report,
    ReportResp,
    Result,
    SequenceNumber,
    Submit,
    SubmitResp,
    Trace,
    TraceNode,
    TraceResp,
    Unbind,
    UnbindResp,
    UserRpt,
    UserRptResp,
)

__all__ = ["MAX_PDU_SIZE", "Decoder", "decode_pdu", "encode"]

#: Largest PDU accepted: a 100-recipient Submit is 2,243 bytes before its content.
MAX_PDU_SIZE: Final = 8 * 1024

_HEADER = struct.Struct(">IIIII")  # MessageLength, CommandID, node, time, counter
_CONTENT_LENGTH = struct.Struct(">I")
_COUNT = struct.Struct(">B")
_NUMBER = struct.Struct(f">{NUMBER_SIZE}s")

# Field kinds of the table.
_INT1, _INT4, _TEXT, _SEQUENCE = "B", "I", "s", "III"


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    kind: str
    size: int = 0  # text fields only


def _int1(name: str) -> _Field:
    return _Field(name, _INT1)


def _text(name: str, size: int) -> _Field:
    return _Field(name, _TEXT, size)


def _sequence(name: str) -> _Field:
    return _Field(name, _SEQUENCE)


def _reserve() -> _Field:
    return _text("reserve", RESERVE_SIZE)


class _Block:
    """Consecutive fixed-size fields, packed and unpacked by one precompiled struct."""

    def __init__(self, *fields: _Field) -> None:
        self.fields = fields
        self.names = tuple(f.name for f in fields)
        self._struct = struct.Struct(
            ">" + "".join(f"{f.size}s" if f.kind == _TEXT else f.kind for f in fields)
        )
        self.size = self._struct.size
        self._get = attrgetter(*self.names) if len(fields) > 1 else None
        self._kinds = tuple((f.kind, f.size, f.name) for f in fields)

    def values(self, obj: Any) -> tuple[Any, ...]:
        if self._get is None:
            return (getattr(obj, self.names[0]),)
        values: tuple[Any, ...] = self._get(obj)
        return values

    def pack(self, obj: Any) -> bytes:
        args: list[Any] = []
        for (kind, size, name), value in zip(self._kinds, self.values(obj), strict=True):
            if kind == _TEXT:
                args.append(_encode_text(value, size, name))
            elif kind == _SEQUENCE:
                args.extend(value)
            else:
                args.append(value)
        try:
            return self._struct.pack(*args)
        except (struct.error, TypeError) as error:
            raise LocalProtocolError(f"cannot encode {self.names}: {error}") from error

    def read(self, frame: bytes, offset: int, into: dict[str, Any]) -> int:
        end = offset + self.size
        if end > len(frame):
            raise _length_error(f"body too short for {self.names}")
        raw = self._struct.unpack_from(frame, offset)
        index = 0
        for kind, _, name in self._kinds:
            if kind == _TEXT:
                into[name] = decode_fixed(raw[index])
                index += 1
            elif kind == _SEQUENCE:
                into[name] = SequenceNumber(*raw[index : index + 3])
                index += 3
            else:
                into[name] = raw[index]
                index += 1
        return end

    def unpack(self, frame: bytes, offset: int) -> tuple[dict[str, Any], int]:
        into: dict[str, Any] = {}
        return into, self.read(frame, offset, into)


def _encode_text(value: object, size: int, name: str) -> bytes:
    if not isinstance(value, str):
        raise LocalProtocolError(f"{name} must be text, not {type(value).__name__}")
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError as error:
        raise LocalProtocolError(f"{name} must be ASCII: {value!r}") from error
    if len(raw) > size:
        raise LocalProtocolError(f"{name} is {len(raw)} bytes, at most {size} allowed")
    return raw


def _length_error(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message, status=Result.MESSAGE_LENGTH_ERROR)


class _Numbers:
    """Submit's UserCount (1 byte) followed by that many 21-byte UserNumbers."""

    size = _COUNT.size

    def pack(self, obj: Any) -> bytes:
        numbers: tuple[str, ...] = obj.user_numbers
        if not 1 <= len(numbers) <= MAX_USER_COUNT:
            raise LocalProtocolError(f"UserCount must be 1..{MAX_USER_COUNT}, not {len(numbers)}")
        pack = _NUMBER.pack
        return bytes((len(numbers),)) + b"".join(
            pack(_encode_text(n, NUMBER_SIZE, "user_number")) for n in numbers
        )

    def read(self, frame: bytes, offset: int, into: dict[str, Any]) -> int:
        if offset >= len(frame):
            raise _length_error("body too short for UserCount")
        count = frame[offset]
        if not 1 <= count <= MAX_USER_COUNT:
            raise RemoteProtocolError(
                f"UserCount {count} outside 1..{MAX_USER_COUNT}", status=Result.PARAMETER_FORMAT
            )
        start = offset + 1
        end = start + count * NUMBER_SIZE
        if end > len(frame):
            raise _length_error(f"body too short for {count} UserNumbers")
        into["user_numbers"] = tuple(
            decode_fixed(frame[at : at + NUMBER_SIZE]) for at in range(start, end, NUMBER_SIZE)
        )
        return end


class _Content:
    """A 4-byte MessageLength followed by that many content bytes."""

    def pack(self, obj: Any) -> bytes:
        content = obj.message_content
        if not isinstance(content, bytes | bytearray):
            raise LocalProtocolError("message_content must be bytes")
        if len(content) > MAX_PDU_SIZE:
            raise LocalProtocolError(f"message_content of {len(content)} bytes is too long")
        return _CONTENT_LENGTH.pack(len(content)) + content

    def read(self, frame: bytes, offset: int, into: dict[str, Any]) -> int:
        start = offset + _CONTENT_LENGTH.size
        if start > len(frame):
            raise _length_error("body too short for MessageLength")
        length: int = _CONTENT_LENGTH.unpack_from(frame, offset)[0]
        end = start + length
        if end > len(frame):
            raise _length_error(f"MessageLength {length} runs past the end of the PDU")
        into["message_content"] = frame[start:end]
        return end


_TRACE_NODE = _Block(
    _int1("result"),
    _text("node_id", NODE_ID_TEXT_SIZE),
    _text("receive_time", TIME_SIZE),
    _text("send_time", TIME_SIZE),
)


class _TraceNodes:
    """Trace_Resp's Count and node entries, followed by the 8-byte Reserve.

    Implementations often send a single entry whatever Count says, so the number of
    entries is taken from the bytes present; a remainder that is not whole entries is an
    error.
    """

    def pack(self, obj: Any) -> bytes:
        nodes: tuple[TraceNode, ...] = obj.nodes
        if len(nodes) > 0xFF:
            raise LocalProtocolError(f"at most 255 trace nodes, not {len(nodes)}")
        return bytes((len(nodes),)) + b"".join(_TRACE_NODE.pack(node) for node in nodes)

    def read(self, frame: bytes, offset: int, into: dict[str, Any]) -> int:
        if offset >= len(frame):
            raise _length_error("body too short for Count")
        start = offset + 1
        entries, remainder = divmod(len(frame) - start - RESERVE_SIZE, _TRACE_NODE.size)
        if entries < 0 or remainder:
            raise _length_error("Trace_Resp body is not whole node entries")
        nodes = []
        for index in range(entries):
            fields, _ = _TRACE_NODE.unpack(frame, start + index * _TRACE_NODE.size)
            nodes.append(TraceNode(**fields))
        into["nodes"] = tuple(nodes)
        return start + entries * _TRACE_NODE.size


_Part = _Block | _Numbers | _Content | _TraceNodes

_RESULT_BODY = (_Block(_int1("result"), _reserve()),)

_LAYOUTS: dict[type[Pdu], tuple[CommandId, tuple[_Part, ...]]] = {
    Bind: (
        CommandId.BIND,
        (
            _Block(
                _int1("login_type"),
                _text("login_name", LOGIN_NAME_SIZE),
                _text("login_password", LOGIN_PASSWORD_SIZE),
                _reserve(),
            ),
        ),
    ),
    BindResp: (CommandId.BIND_RESP, _RESULT_BODY),
    Unbind: (CommandId.UNBIND, ()),
    UnbindResp: (CommandId.UNBIND_RESP, ()),
    Submit: (
        CommandId.SUBMIT,
        (
            _Block(_text("sp_number", NUMBER_SIZE), _text("charge_number", NUMBER_SIZE)),
            _Numbers(),
            _Block(
                _text("corp_id", CORP_ID_SIZE),
                _text("service_type", SERVICE_TYPE_SIZE),
                _int1("fee_type"),
                _text("fee_value", FEE_SIZE),
                _text("given_value", FEE_SIZE),
                _int1("agent_flag"),
                _int1("morelateto_mt_flag"),
                _int1("priority"),
                _text("expire_time", TIME_SIZE),
                _text("schedule_time", TIME_SIZE),
                _int1("report_flag"),
                _int1("tp_pid"),
                _int1("tp_udhi"),
                _int1("message_coding"),
                _int1("message_type"),
            ),
            _Content(),
            _Block(_reserve()),
        ),
    ),
    SubmitResp: (CommandId.SUBMIT_RESP, _RESULT_BODY),
    Deliver: (
        CommandId.DELIVER,
        (
            _Block(
                _text("user_number", NUMBER_SIZE),
                _text("sp_number", NUMBER_SIZE),
                _int1("tp_pid"),
                _int1("tp_udhi"),
                _int1("message_coding"),
            ),
            _Content(),
            _Block(_reserve()),
        ),
    ),
    DeliverResp: (CommandId.DELIVER_RESP, _RESULT_BODY),
    Report: (
        CommandId.REPORT,
        (
            _Block(
                _sequence("submit_sequence"),
                _int1("report_type"),
                _text("user_number", NUMBER_SIZE),
                _int1("state"),
                _int1("error_code"),
                _reserve(),
            ),
        ),
    ),
    ReportResp: (CommandId.REPORT_RESP, _RESULT_BODY),
    UserRpt: (
        CommandId.USER_RPT,
        (
            _Block(
                _text("sp_number", NUMBER_SIZE),
                _text("user_number", NUMBER_SIZE),
                _int1("user_condition"),
                _reserve(),
            ),
        ),
    ),
    UserRptResp: (CommandId.USER_RPT_RESP, _RESULT_BODY),
    Trace: (
        CommandId.TRACE,
        (_Block(_sequence("submit_sequence"), _text("user_number", NUMBER_SIZE), _reserve()),),
    ),
    TraceResp: (CommandId.TRACE_RESP, (_TraceNodes(), _Block(_reserve()))),
}

_BY_COMMAND: dict[int, tuple[type[Pdu], tuple[_Part, ...]]] = {
    int(command): (cls, parts) for cls, (command, parts) in _LAYOUTS.items()
}


def encode(pdu: Pdu) -> bytes:
    """The bytes of ``pdu``, header included; raises LocalProtocolError for bad values."""
    layout = _LAYOUTS.get(type(pdu))
    if layout is None:
        raise LocalProtocolError(f"not an SGIP PDU: {type(pdu).__name__}")
    command, parts = layout
    body = b"".join([part.pack(pdu) for part in parts])
    node, time, counter = pdu.sequence
    try:
        header = _HEADER.pack(HEADER_SIZE + len(body), command, node, time, counter)
    except struct.error as error:
        raise LocalProtocolError(f"bad sequence number {pdu.sequence}: {error}") from error
    return header + body


def decode_pdu(frame: bytes) -> Pdu:
    """Decode exactly one whole PDU (length prefix included)."""
    if len(frame) < HEADER_SIZE:
        raise _length_error(f"PDU of {len(frame)} bytes is shorter than the header")
    length, command, node, time, counter = _HEADER.unpack_from(frame)
    if length != len(frame):
        raise _length_error(f"MessageLength {length} but {len(frame)} bytes")
    layout = _BY_COMMAND.get(command)
    if layout is None:
        raise RemoteProtocolError(
            f"command 0x{command:08x} not served", status=Result.FUNCTION_NOT_PROVIDED
        )
    cls, parts = layout
    fields: dict[str, Any] = {}
    offset = HEADER_SIZE
    for part in parts:
        offset = part.read(frame, offset, fields)
    if offset != length:
        raise _length_error(f"{cls.__name__} has {length - offset} bytes too many")
    return cls(sequence=SequenceNumber(node, time, counter), **fields)


class Decoder:
    """Cuts a byte stream into SGIP PDUs; partial frames are kept for the next feed."""

    __slots__ = ("_framer",)

    def __init__(self, *, max_length: int = MAX_PDU_SIZE) -> None:
        self._framer = LengthPrefixedFramer(min_length=HEADER_SIZE, max_length=max_length)

    def feed(self, data: bytes) -> None:
        """Add bytes received from the peer."""
        self._framer.feed(data)

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole PDU."""
        return self._framer.buffered

    def pdus(self) -> Iterator[Pdu]:
        """Yield each complete PDU buffered so far, decoding one at a time."""
        frames = self._framer.frames()
        try:
            while True:
                try:
                    frame = next(frames)
                except StopIteration:
                    return
                except RemoteProtocolError as error:
                    if error.status is None:
                        error.status = Result.MESSAGE_LENGTH_ERROR
                    raise
                yield decode_pdu(frame)
        finally:
            frames.close()
