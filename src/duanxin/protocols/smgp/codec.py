"""SMGP 3.0 codec: ``encode(pdu) -> bytes`` and an incremental :class:`Decoder`.

Each PDU is described once, in :data:`_SPECS`: a fixed block (a table of named fields,
compiled into one ``struct.Struct``) and, for Submit and Deliver, a variable tail
(destination list, length-prefixed content, 8 reserved bytes, TLVs). Encode and decode are
both driven by that table, so they cannot disagree.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from operator import attrgetter
from typing import Any

from duanxin.protocols.core.errors import LocalProtocolError, RemoteProtocolError
from duanxin.protocols.core.fields import decode_fixed, encode_fixed
from duanxin.protocols.core.framing import LengthPrefixedFramer
from duanxin.protocols.smgp.pdu import (
    AUTHENTICATOR_SIZE,
    MSG_ID_SIZE,
    CommandId,
    Pdu,
    SmgpActiveTest,
    SmgpActiveTestResp,
    SmgpDeliver,
    SmgpDeliverResp,
    SmgpExit,
    SmgpExitResp,
    SmgpLogin,
    SmgpLoginResp,
    SmgpQuery,
    SmgpQueryResp,
    SmgpStatus,
    SmgpSubmit,
    SmgpSubmitResp,
    Tlv,
)

__all__ = ["HEADER_SIZE", "MAX_PDU_SIZE", "Decoder", "SmgpDecodeError", "decode_pdu", "encode"]

HEADER = struct.Struct(">III")  # PacketLength, RequestID, SequenceID
HEADER_SIZE = HEADER.size
# The largest legal PDU is a Submit to 100 destinations with 255 content bytes (2,481
# bytes) plus TLVs; anything far beyond that is garbage, not a message.
MAX_PDU_SIZE = 4096

CLIENT_ID_SIZE = 8
SERVICE_ID_SIZE = 10
FEE_TYPE_SIZE = 2
FEE_CODE_SIZE = 6
TIME_SIZE = 17  # ValidTime / AtTime
RECV_TIME_SIZE = 14
TERM_ID_SIZE = 21
QUERY_TIME_SIZE = 8
QUERY_CODE_SIZE = 10
RESERVE_SIZE = 8
MAX_DESTINATIONS = 100
MAX_CONTENT_SIZE = 0xFF  # MsgLength is one byte
MAX_TLV_VALUE_SIZE = 0xFFFF

_COUNT = struct.Struct(">B")
_TLV_HEAD = struct.Struct(">HH")
_RESERVE = bytes(RESERVE_SIZE)


class SmgpDecodeError(RemoteProtocolError):
    """A frame whose header was readable but whose body was not.

    Knowing the command and sequence lets a server answer with that command's response
    carrying ``status`` (the notes' "bad message structure") before it closes.
    """

    def __init__(self, message: str, *, command: int, sequence_id: int, status: int) -> None:
        super().__init__(message, status=status, close=True)
        self.command = command
        self.sequence_id = sequence_id


class _Type(Enum):
    UINT8 = "uint8"
    UINT32 = "uint32"
    TEXT = "text"  # ASCII, NUL-padded to the size, decoded up to the first NUL
    OCTETS = "octets"  # raw bytes of exactly the size (message ids, digests)

    @property
    def struct_code(self) -> str:
        return {"uint8": "B", "uint32": "I"}.get(self.value, "s")


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    type: _Type
    size: int = 0  # TEXT and OCTETS only


def _u8(name: str) -> _Field:
    return _Field(name, _Type.UINT8)


def _u32(name: str) -> _Field:
    return _Field(name, _Type.UINT32)


def _text(name: str, size: int) -> _Field:
    return _Field(name, _Type.TEXT, size)


def _octets(name: str, size: int) -> _Field:
    return _Field(name, _Type.OCTETS, size)


class _Tail(Enum):
    DESTINATIONS = "DestTermIDCount + DestTermID x n"
    CONTENT = "MsgLength + MsgContent"
    RESERVE = "Reserve (8 zero bytes)"
    TLVS = "optional parameters up to PacketLength"


_Encoder = Callable[[Any], Any]


def _encoder_for(field: _Field) -> _Encoder | None:
    if field.type is _Type.TEXT:
        size, name = field.size, field.name
        return lambda value: encode_fixed(value, size, name=name)
    if field.type is _Type.OCTETS:
        size, name = field.size, field.name

        def exact(value: bytes) -> bytes:
            if len(value) != size:
                raise LocalProtocolError(f"{name} must be {size} bytes, got {len(value)}")
            return value

        return exact
    return None  # integers go to struct as they are; it checks their range


class _Spec:
    """How one PDU type maps to bytes: its fixed block, then its variable tail."""

    __slots__ = (
        "block",
        "cls",
        "command",
        "encoders",
        "getter",
        "is_text",
        "names",
        "tail",
    )

    def __init__(self, cls: type[Any], fields: tuple[_Field, ...], tail: tuple[_Tail, ...] = ()):
        self.cls = cls
        self.command: CommandId = cls.command
        self.block = struct.Struct(
            ">" + "".join(f"{f.size or ''}{f.type.struct_code}" for f in fields)
        )
        self.names = ("sequence_id", *(f.name for f in fields))
        self.getter: Callable[[Any], tuple[Any, ...]] = (
            attrgetter(*self.names) if fields else lambda pdu: (pdu.sequence_id,)
        )
        self.encoders = tuple(_encoder_for(f) for f in fields)
        self.is_text = tuple(f.type is _Type.TEXT for f in fields)
        self.tail = tail

    @property
    def fixed_size(self) -> int:
        return HEADER_SIZE + self.block.size


_VARIABLE = (_Tail.CONTENT, _Tail.RESERVE, _Tail.TLVS)

_SPECS: tuple[_Spec, ...] = (
    _Spec(
        SmgpLogin,
        (
            _text("client_id", CLIENT_ID_SIZE),
            _octets("authenticator_client", AUTHENTICATOR_SIZE),
            _u8("login_mode"),
            _u32("timestamp"),
            _u8("client_version"),
        ),
    ),
    _Spec(
        SmgpLoginResp,
        (
            _u32("status"),
            _octets("authenticator_server", AUTHENTICATOR_SIZE),
            _u8("server_version"),
        ),
    ),
    _Spec(
        SmgpSubmit,
        (
            _u8("msg_type"),
            _u8("need_report"),
            _u8("priority"),
            _text("service_id", SERVICE_ID_SIZE),
            _text("fee_type", FEE_TYPE_SIZE),
            _text("fee_code", FEE_CODE_SIZE),
            _text("fixed_fee", FEE_CODE_SIZE),
            _u8("msg_format"),
            _text("valid_time", TIME_SIZE),
            _text("at_time", TIME_SIZE),
            _text("src_term_id", TERM_ID_SIZE),
            _text("charge_term_id", TERM_ID_SIZE),
        ),
        (_Tail.DESTINATIONS, *_VARIABLE),
    ),
    _Spec(SmgpSubmitResp, (_octets("msg_id", MSG_ID_SIZE), _u32("status"))),
    _Spec(
        SmgpDeliver,
        (
            _octets("msg_id", MSG_ID_SIZE),
            _u8("is_report"),
            _u8("msg_format"),
            _text("recv_time", RECV_TIME_SIZE),
            _text("src_term_id", TERM_ID_SIZE),
            _text("dest_term_id", TERM_ID_SIZE),
        ),
        _VARIABLE,
    ),
    _Spec(SmgpDeliverResp, (_octets("msg_id", MSG_ID_SIZE), _u32("status"))),
    _Spec(SmgpActiveTest, ()),
    _Spec(SmgpActiveTestResp, ()),
    _Spec(SmgpExit, ()),
    _Spec(SmgpExitResp, ()),
    _Spec(
        SmgpQuery,
        (
            _text("query_time", QUERY_TIME_SIZE),
            _u8("query_type"),
            _text("query_code", QUERY_CODE_SIZE),
        ),
    ),
    _Spec(
        SmgpQueryResp,
        (
            _text("query_time", QUERY_TIME_SIZE),
            _u8("query_type"),
            _text("query_code", QUERY_CODE_SIZE),
            *(
                _u32(name)
                for name in (
                    "mt_tlmsg",
                    "mt_tlusr",
                    "mt_scs",
                    "mt_wt",
                    "mt_fl",
                    "mo_scs",
                    "mo_wt",
                    "mo_fl",
                )
            ),
        ),
        (_Tail.RESERVE,),
    ),
)

_BY_CLASS: dict[type[Any], _Spec] = {spec.cls: spec for spec in _SPECS}
_BY_COMMAND: dict[int, _Spec] = {spec.command: spec for spec in _SPECS}


# ------------------------------------------------------------------ encoding


def encode(pdu: Pdu) -> bytes:
    """The wire bytes of ``pdu``; raises :class:`LocalProtocolError` for invalid values."""
    spec = _BY_CLASS[type(pdu)]
    sequence_id, *fields = spec.getter(pdu)
    try:
        block = spec.block.pack(
            *[
                value if enc is None else enc(value)
                for enc, value in zip(spec.encoders, fields, strict=True)
            ]
        )
        body = _encode_tail(spec, pdu, block) if spec.tail else block
        return HEADER.pack(HEADER_SIZE + len(body), spec.command, sequence_id) + body
    except (struct.error, UnicodeEncodeError, TypeError) as error:
        raise LocalProtocolError(f"cannot encode {type(pdu).__name__}: {error}") from error


def _encode_tail(spec: _Spec, pdu: Any, block: bytes) -> bytes:
    parts = [block]
    for part in spec.tail:
        if part is _Tail.DESTINATIONS:
            parts.append(_encode_destinations(pdu.dest_term_ids))
        elif part is _Tail.CONTENT:
            content: bytes = pdu.msg_content
            if len(content) > MAX_CONTENT_SIZE:
                raise LocalProtocolError(f"msg_content is {len(content)} bytes, at most 255")
            parts.append(_COUNT.pack(len(content)))
            parts.append(content)
        elif part is _Tail.RESERVE:
            parts.append(_RESERVE)
        else:
            parts.extend(_encode_tlv(tlv) for tlv in pdu.tlvs)
    return b"".join(parts)


def _encode_destinations(destinations: tuple[str, ...]) -> bytes:
    if len(destinations) > MAX_DESTINATIONS:
        raise LocalProtocolError(f"{len(destinations)} destinations, at most {MAX_DESTINATIONS}")
    return _COUNT.pack(len(destinations)) + b"".join(
        encode_fixed(number, TERM_ID_SIZE, name="dest_term_id") for number in destinations
    )


def _encode_tlv(tlv: Tlv) -> bytes:
    if len(tlv.value) > MAX_TLV_VALUE_SIZE:
        raise LocalProtocolError(f"TLV {tlv.name} value is {len(tlv.value)} bytes")
    return _TLV_HEAD.pack(tlv.tag, len(tlv.value)) + tlv.value


# ------------------------------------------------------------------ decoding


def decode_pdu(frame: bytes) -> Pdu:
    """Decode one whole frame (header included) into its PDU."""
    if len(frame) < HEADER_SIZE:
        raise RemoteProtocolError(f"frame of {len(frame)} bytes is shorter than the header")
    length, command, sequence_id = HEADER.unpack_from(frame)
    if length != len(frame):
        raise RemoteProtocolError(f"PacketLength {length} but frame is {len(frame)} bytes")
    spec = _BY_COMMAND.get(command)
    if spec is None:
        raise RemoteProtocolError(
            f"unsupported RequestID 0x{command:08x}", status=SmgpStatus.BAD_COMMAND
        )
    if (length < spec.fixed_size) or (not spec.tail and length != spec.fixed_size):
        raise _structure_error(spec, sequence_id, f"{length} bytes")
    view = memoryview(frame)
    raw = spec.block.unpack_from(view, HEADER_SIZE)
    values: dict[str, Any] = {"sequence_id": sequence_id}
    for name, is_text, value in zip(spec.names[1:], spec.is_text, raw, strict=True):
        values[name] = decode_fixed(value) if is_text else value
    if spec.tail:
        _decode_tail(spec, view, spec.fixed_size, values)
    pdu: Pdu = spec.cls(**values)
    return pdu


def _structure_error(spec: _Spec, sequence_id: int, detail: str) -> SmgpDecodeError:
    return SmgpDecodeError(
        f"malformed {spec.cls.__name__}: {detail}",
        command=spec.command,
        sequence_id=sequence_id,
        status=SmgpStatus.BAD_STRUCTURE,
    )


def _decode_tail(spec: _Spec, view: memoryview, offset: int, values: dict[str, Any]) -> None:
    end = len(view)
    for part in spec.tail:
        if part is _Tail.DESTINATIONS:
            count = _read_count(spec, view, offset, values)
            offset += 1
            stop = offset + count * TERM_ID_SIZE
            if stop > end:
                raise _structure_error(spec, values["sequence_id"], "destinations overrun")
            values["dest_term_ids"] = tuple(
                decode_fixed(view[at : at + TERM_ID_SIZE])
                for at in range(offset, stop, TERM_ID_SIZE)
            )
            offset = stop
        elif part is _Tail.CONTENT:
            size = _read_count(spec, view, offset, values)
            offset += 1
            if offset + size > end:
                raise _structure_error(spec, values["sequence_id"], "content overruns the frame")
            values["msg_content"] = bytes(view[offset : offset + size])
            offset += size
        elif part is _Tail.RESERVE:
            offset += RESERVE_SIZE
            if offset > end:
                raise _structure_error(spec, values["sequence_id"], "Reserve missing")
        else:
            values["tlvs"] = _decode_tlvs(spec, view, offset, values["sequence_id"])
            offset = end
    if offset != end:
        raise _structure_error(spec, values["sequence_id"], f"{end - offset} bytes left over")


def _read_count(spec: _Spec, view: memoryview, offset: int, values: dict[str, Any]) -> int:
    if offset >= len(view):
        raise _structure_error(spec, values["sequence_id"], "truncated")
    return view[offset]


def _decode_tlvs(spec: _Spec, view: memoryview, offset: int, sequence_id: int) -> tuple[Tlv, ...]:
    tlvs: list[Tlv] = []
    end = len(view)
    while offset < end:
        if offset + _TLV_HEAD.size > end:
            raise _structure_error(spec, sequence_id, "truncated TLV header")
        tag, size = _TLV_HEAD.unpack_from(view, offset)
        offset += _TLV_HEAD.size
        if offset + size > end:
            raise _structure_error(spec, sequence_id, f"TLV 0x{tag:04x} overruns the frame")
        tlvs.append(Tlv(tag, bytes(view[offset : offset + size])))
        offset += size
    return tuple(tlvs)


class Decoder:
    """Turns received bytes into PDUs; partial frames wait for more bytes."""

    __slots__ = ("_framer",)

    def __init__(self, *, max_pdu_size: int = MAX_PDU_SIZE) -> None:
        self._framer = LengthPrefixedFramer(min_length=HEADER_SIZE, max_length=max_pdu_size)

    def feed(self, data: bytes) -> None:
        """Add bytes received from the peer."""
        self._framer.feed(data)

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole PDU."""
        return self._framer.buffered

    def pdus(self) -> Iterator[Pdu]:
        """Yield each complete PDU buffered so far, decoding one frame at a time."""
        for frame in self._framer.frames():
            yield decode_pdu(frame)
