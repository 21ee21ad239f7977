"""SMPP 3.4 wire codec: ``encode(pdu) -> bytes`` and an incremental :class:`Decoder`.

One declarative field table per PDU class drives both directions. At import the tables are
compiled into steps: runs of adjacent integers become one precompiled ``struct.Struct``,
C-octet strings, the length-prefixed ``short_message``, submit_multi's address lists and the
trailing TLVs get a step each.

Decoding errors are :class:`SmppDecodeError` (a ``RemoteProtocolError``) carrying the status
for the generic_nack and, when the header could be read, the offending sequence number.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from duanxin.protocols.core.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from duanxin.protocols.core.fields import decode_c_string, encode_c_string
from duanxin.protocols.core.framing import LengthPrefixedFramer
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.pdu import CommandStatus, Pdu
from duanxin.protocols.smpp.tlv import TLV_HEADER_SIZE, TLV_MAX_VALUE, Tlv

__all__ = ["MAX_PDU_SIZE", "Decoder", "SmppDecodeError", "decode_pdu", "encode"]

MAX_PDU_SIZE = 0x10000 + 0x400  # a full message_payload TLV plus the mandatory fields
_HEADER = struct.Struct(">IIII")
_TLV_HEADER = struct.Struct(">HH")
_U8 = struct.Struct(">B")


class SmppDecodeError(RemoteProtocolError):
    """A PDU that cannot be decoded; answer with generic_nack(``status``) and close."""

    def __init__(self, message: str, *, status: int, sequence_number: int | None) -> None:
        super().__init__(message, status=status, close=True)
        self.sequence_number = sequence_number


class _Short(RemoteProtocolError):
    def __init__(self, what: str) -> None:
        super().__init__(f"body ends inside {what}", status=CommandStatus.ESME_RINVCMDLEN)


Values = dict[str, Any]


# ------------------------------------------------------------------- field kinds


@dataclass(frozen=True, slots=True)
class Int:
    """Unsigned big-endian integer of 1, 2 or 4 bytes (``struct`` code B, H or I)."""

    code: str


@dataclass(frozen=True, slots=True)
class CString:
    """C-octet string; ``max_size`` includes the NUL."""

    max_size: int


class ShortMessage:
    """``sm_length`` (1 byte) followed by that many octets."""


class SubmitMultiDests:
    """``number_of_dests`` (1 byte) and the dest_address list of submit_multi."""


class UnsuccessList:
    """``no_unsuccess`` (1 byte) and the unsuccess_sme list of submit_multi_resp."""


class Tlvs:
    """Optional parameters up to the end of the PDU."""


U8, U16, U32 = Int("B"), Int("H"), Int("I")
Spec = (
    Int | CString | type[ShortMessage] | type[SubmitMultiDests] | type[UnsuccessList] | type[Tlvs]
)
Table = tuple[tuple[str, Spec], ...]

_BIND: Table = (
    ("system_id", CString(p.SYSTEM_ID_SIZE)),
    ("password", CString(p.PASSWORD_SIZE)),
    ("system_type", CString(p.SYSTEM_TYPE_SIZE)),
    ("interface_version", U8),
    ("addr_ton", U8),
    ("addr_npi", U8),
    ("address_range", CString(p.ADDRESS_RANGE_SIZE)),
)
_BIND_RESP: Table = (("system_id", CString(p.SYSTEM_ID_SIZE)), ("tlvs", Tlvs))
_MESSAGE_ID_RESP: Table = (("message_id", CString(p.MESSAGE_ID_SIZE)), ("tlvs", Tlvs))
_SOURCE: Table = (
    ("source_addr_ton", U8),
    ("source_addr_npi", U8),
    ("source_addr", CString(p.ADDRESS_SIZE)),
)
_DEST: Table = (
    ("dest_addr_ton", U8),
    ("dest_addr_npi", U8),
    ("destination_addr", CString(p.ADDRESS_SIZE)),
)
_MESSAGE_TAIL: Table = (
    ("esm_class", U8),
    ("protocol_id", U8),
    ("priority_flag", U8),
    ("schedule_delivery_time", CString(p.TIME_SIZE)),
    ("validity_period", CString(p.TIME_SIZE)),
    ("registered_delivery", U8),
    ("replace_if_present_flag", U8),
    ("data_coding", U8),
    ("sm_default_msg_id", U8),
    ("short_message", ShortMessage),
    ("tlvs", Tlvs),
)
_SHORT_MESSAGE: Table = (
    ("service_type", CString(p.SERVICE_TYPE_SIZE)),
    *_SOURCE,
    *_DEST,
    *_MESSAGE_TAIL,
)

FIELDS: dict[type[Pdu], Table] = {
    p.GenericNack: (),
    p.BindTransmitter: _BIND,
    p.BindReceiver: _BIND,
    p.BindTransceiver: _BIND,
    p.BindTransmitterResp: _BIND_RESP,
    p.BindReceiverResp: _BIND_RESP,
    p.BindTransceiverResp: _BIND_RESP,
    p.Outbind: (("system_id", CString(p.SYSTEM_ID_SIZE)), ("password", CString(p.PASSWORD_SIZE))),
    p.QuerySm: (("message_id", CString(p.MESSAGE_ID_SIZE)), *_SOURCE),
    p.QuerySmResp: (
        ("message_id", CString(p.MESSAGE_ID_SIZE)),
        ("final_date", CString(p.TIME_SIZE)),
        ("message_state", U8),
        ("error_code", U8),
        ("tlvs", Tlvs),
    ),
    p.SubmitSm: _SHORT_MESSAGE,
    p.SubmitSmResp: _MESSAGE_ID_RESP,
    p.DeliverSm: _SHORT_MESSAGE,
    p.DeliverSmResp: _MESSAGE_ID_RESP,
    p.Unbind: (),
    p.UnbindResp: (),
    p.ReplaceSm: (
        ("message_id", CString(p.MESSAGE_ID_SIZE)),
        *_SOURCE,
        ("schedule_delivery_time", CString(p.TIME_SIZE)),
        ("validity_period", CString(p.TIME_SIZE)),
        ("registered_delivery", U8),
        ("sm_default_msg_id", U8),
        ("short_message", ShortMessage),
    ),
    p.ReplaceSmResp: (),
    p.CancelSm: (
        ("service_type", CString(p.SERVICE_TYPE_SIZE)),
        ("message_id", CString(p.MESSAGE_ID_SIZE)),
        *_SOURCE,
        *_DEST,
    ),
    p.CancelSmResp: (),
    p.EnquireLink: (),
    p.EnquireLinkResp: (),
    p.SubmitMulti: (
        ("service_type", CString(p.SERVICE_TYPE_SIZE)),
        *_SOURCE,
        ("dest_addresses", SubmitMultiDests),
        *_MESSAGE_TAIL,
    ),
    p.SubmitMultiResp: (
        ("message_id", CString(p.MESSAGE_ID_SIZE)),
        ("unsuccess_smes", UnsuccessList),
        ("tlvs", Tlvs),
    ),
    p.AlertNotification: (
        ("source_addr_ton", U8),
        ("source_addr_npi", U8),
        ("source_addr", CString(p.LONG_ADDRESS_SIZE)),
        ("esme_addr_ton", U8),
        ("esme_addr_npi", U8),
        ("esme_addr", CString(p.LONG_ADDRESS_SIZE)),
        ("tlvs", Tlvs),
    ),
    p.DataSm: (
        ("service_type", CString(p.SERVICE_TYPE_SIZE)),
        ("source_addr_ton", U8),
        ("source_addr_npi", U8),
        ("source_addr", CString(p.LONG_ADDRESS_SIZE)),
        ("dest_addr_ton", U8),
        ("dest_addr_npi", U8),
        ("destination_addr", CString(p.LONG_ADDRESS_SIZE)),
        ("esm_class", U8),
        ("registered_delivery", U8),
        ("data_coding", U8),
        ("tlvs", Tlvs),
    ),
    p.DataSmResp: _MESSAGE_ID_RESP,
}

# ------------------------------------------------------------- primitive fields


def _put_c_string(value: str, max_size: int, name: str) -> bytes:
    if "\x00" in value:
        raise LocalProtocolError(f"{name} contains NUL")
    try:
        return encode_c_string(value, max_size, name=name)
    except UnicodeEncodeError as error:
        raise LocalProtocolError(f"{name} is not latin-1 text") from error


def _put_octets(data: bytes, name: str) -> bytes:
    if len(data) > p.SHORT_MESSAGE_MAX:
        raise LocalProtocolError(f"{name} is {len(data)} bytes, at most {p.SHORT_MESSAGE_MAX}")
    return _U8.pack(len(data)) + data


def _get_octets(frame: bytes, offset: int, end: int) -> tuple[bytes, int]:
    if offset >= end:
        raise _Short("sm_length")
    start = offset + 1
    stop = start + frame[offset]
    if stop > end:
        raise _Short("short_message")
    return frame[start:stop], stop


def _get_u8(frame: bytes, offset: int, end: int, what: str) -> int:
    if offset >= end:
        raise _Short(what)
    return frame[offset]


def _put_tlvs(tlvs: tuple[Tlv, ...]) -> bytes:
    parts = []
    for tlv in tlvs:
        if len(tlv.value) > TLV_MAX_VALUE:
            raise LocalProtocolError(f"TLV 0x{tlv.tag:04X} value exceeds {TLV_MAX_VALUE} bytes")
        parts.append(_TLV_HEADER.pack(tlv.tag, len(tlv.value)))
        parts.append(tlv.value)
    return b"".join(parts)


def _get_tlvs(frame: bytes, offset: int, end: int) -> tuple[Tlv, ...]:
    tlvs: list[Tlv] = []
    while offset < end:
        if offset + TLV_HEADER_SIZE > end:
            raise RemoteProtocolError(
                "truncated TLV header", status=CommandStatus.ESME_RINVOPTPARSTREAM
            )
        tag, length = _TLV_HEADER.unpack_from(frame, offset)
        offset += TLV_HEADER_SIZE
        if offset + length > end:
            raise RemoteProtocolError(
                f"TLV 0x{tag:04X} overruns the PDU", status=CommandStatus.ESME_RINVOPTPARSTREAM
            )
        tlvs.append(Tlv(tag, frame[offset : offset + length]))
        offset += length
    return tuple(tlvs)


def _put_dests(dests: tuple[p.SmeAddress | p.DistributionList, ...]) -> bytes:
    parts = [_U8.pack(len(dests))]
    for dest in dests:
        if isinstance(dest, p.SmeAddress):
            parts.append(_U8.pack(p.DEST_FLAG_SME))
            parts.append(_U8.pack(dest.dest_addr_ton) + _U8.pack(dest.dest_addr_npi))
            parts.append(_put_c_string(dest.destination_addr, p.ADDRESS_SIZE, "destination_addr"))
        else:
            parts.append(_U8.pack(p.DEST_FLAG_DISTRIBUTION_LIST))
            parts.append(_put_c_string(dest.dl_name, p.DL_NAME_SIZE, "dl_name"))
    return b"".join(parts)


def _get_dests(
    frame: bytes, offset: int, end: int
) -> tuple[tuple[p.SmeAddress | p.DistributionList, ...], int]:
    count = _get_u8(frame, offset, end, "number_of_dests")
    offset += 1
    dests: list[p.SmeAddress | p.DistributionList] = []
    for _ in range(count):
        flag = _get_u8(frame, offset, end, "dest_flag")
        if flag == p.DEST_FLAG_SME:
            ton = _get_u8(frame, offset + 1, end, "dest_addr_ton")
            npi = _get_u8(frame, offset + 2, end, "dest_addr_npi")
            address, offset = decode_c_string(frame, offset + 3, p.ADDRESS_SIZE)
            dests.append(
                p.SmeAddress(dest_addr_ton=ton, dest_addr_npi=npi, destination_addr=address)
            )
        elif flag == p.DEST_FLAG_DISTRIBUTION_LIST:
            name, offset = decode_c_string(frame, offset + 1, p.DL_NAME_SIZE)
            dests.append(p.DistributionList(dl_name=name))
        else:
            raise RemoteProtocolError(f"dest_flag {flag}", status=CommandStatus.ESME_RINVDESTFLAG)
    return tuple(dests), offset


_UNSUCCESS_TAIL = struct.Struct(">I")


def _put_unsuccess(smes: tuple[p.UnsuccessSme, ...]) -> bytes:
    parts = [_U8.pack(len(smes))]
    for sme in smes:
        parts.append(_U8.pack(sme.dest_addr_ton) + _U8.pack(sme.dest_addr_npi))
        parts.append(_put_c_string(sme.destination_addr, p.ADDRESS_SIZE, "destination_addr"))
        parts.append(_UNSUCCESS_TAIL.pack(sme.error_status_code))
    return b"".join(parts)


def _get_unsuccess(frame: bytes, offset: int, end: int) -> tuple[tuple[p.UnsuccessSme, ...], int]:
    count = _get_u8(frame, offset, end, "no_unsuccess")
    offset += 1
    smes: list[p.UnsuccessSme] = []
    for _ in range(count):
        ton = _get_u8(frame, offset, end, "dest_addr_ton")
        npi = _get_u8(frame, offset + 1, end, "dest_addr_npi")
        address, offset = decode_c_string(frame, offset + 2, p.ADDRESS_SIZE)
        if offset + _UNSUCCESS_TAIL.size > end:
            raise _Short("error_status_code")
        (status,) = _UNSUCCESS_TAIL.unpack_from(frame, offset)
        offset += _UNSUCCESS_TAIL.size
        smes.append(
            p.UnsuccessSme(
                dest_addr_ton=ton,
                dest_addr_npi=npi,
                destination_addr=address,
                error_status_code=status,
            )
        )
    return tuple(smes), offset


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
            raise _Short(fields[0])
        values.update(zip(fields, unpack_from(frame, offset), strict=True))
        return offset + size

    return write, read


def _c_string(name: str, max_size: int) -> tuple[Writer, Reader]:
    def write(pdu: Any, out: list[bytes]) -> None:
        out.append(_put_c_string(getattr(pdu, name), max_size, name))

    def read(frame: bytes, offset: int, end: int, values: Values) -> int:
        if offset >= end:
            raise _Short(name)
        values[name], offset = decode_c_string(frame, offset, max_size)
        return offset

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
            out.append(_put_tlvs(tlvs))

    def read(frame: bytes, offset: int, end: int, values: Values) -> int:
        values[name] = _get_tlvs(frame, offset, end)
        return end

    return write, read


def _step(name: str, spec: Spec) -> tuple[Writer, Reader]:
    if isinstance(spec, CString):
        return _c_string(name, spec.max_size)
    if spec is ShortMessage:
        return _custom(name, lambda data: _put_octets(data, name), _get_octets)
    if spec is SubmitMultiDests:
        return _custom(name, _put_dests, _get_dests)
    if spec is UnsuccessList:
        return _custom(name, _put_unsuccess, _get_unsuccess)
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


def encode(pdu: Pdu) -> bytes:
    """The wire bytes of ``pdu``; raises LocalProtocolError for values SMPP cannot carry."""
    layout = _LAYOUTS.get(type(pdu))
    if layout is None:
        raise LocalProtocolError(f"not an SMPP PDU: {type(pdu).__name__}")
    parts: list[bytes] = []
    try:
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
        return values  # error responses often omit the body: every field keeps its default
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
            # The framer drops a frame from its buffer only when asked for the next one;
            # step it once so a caller that stops early is not handed the same PDU again.
            with contextlib.suppress(RemoteProtocolError):
                next(frames, None)
            frames.close()
