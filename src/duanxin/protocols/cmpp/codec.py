"""CMPP wire codec: ``encode(pdu) -> bytes`` and an incremental :class:`Decoder`.

Fixed parts of every PDU are described by :class:`~duanxin.protocols.cmpp.fields.Block`
tables, one per layout where 2.0 and 3.0 differ. SUBMIT and DELIVER add their variable
parts (destinations, Msg_Content) around those blocks. The decoder needs the negotiated
version for SUBMIT/DELIVER and the 1-or-4-byte result fields; set ``Decoder.version``
once CONNECT has told you (CONNECT_RESP is recognised by its length instead).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

from duanxin.protocols.cmpp.fields import (
    OCTETS,
    TEXT,
    U8,
    U32,
    U64,
    Block,
    FieldSpec,
    encode_text,
)
from duanxin.protocols.cmpp.pdu import (
    ACTIVE_TEST_RESERVED_SIZE,
    AUTHENTICATOR_SIZE,
    DEST_ID_SIZE,
    FEE_CODE_SIZE,
    FEE_TYPE_SIZE,
    HEADER_SIZE,
    LINK_ID_SIZE,
    MAX_DESTINATIONS,
    MAX_MSG_LENGTH,
    MSG_SRC_SIZE,
    QUERY_CODE_SIZE,
    QUERY_RESERVE_SIZE,
    QUERY_TIME_SIZE,
    RESERVE_SIZE,
    SERVICE_ID_SIZE,
    SOURCE_ADDR_SIZE,
    SRC_ID_SIZE,
    TERMINAL_ID_SIZE,
    TIME_SIZE,
    CmppActiveTest,
    CmppActiveTestResp,
    CmppCancel,
    CmppCancelResp,
    CmppCancelResult,
    CmppCommand,
    CmppConnect,
    CmppConnectResp,
    CmppConnectStatus,
    CmppDeliver,
    CmppDeliverResp,
    CmppDeliverResult,
    CmppPdu,
    CmppQuery,
    CmppQueryResp,
    CmppSubmit,
    CmppSubmitResp,
    CmppSubmitResult,
    CmppTerminate,
    CmppTerminateResp,
    CmppVersion,
    layout_of,
)
from duanxin.protocols.core.errors import LocalProtocolError, RemoteProtocolError
from duanxin.protocols.core.fields import decode_fixed
from duanxin.protocols.core.framing import LengthPrefixedFramer

__all__ = ["MAX_PDU_LENGTH", "CmppFrameError", "Decoder", "decode", "encode"]

V20, V30 = CmppVersion.V20, CmppVersion.V30
_HEADER = struct.Struct(">III")
_U8 = struct.Struct(">B")


class CmppFrameError(RemoteProtocolError):
    """A whole frame whose body is malformed: we know whom to answer, and with what."""

    def __init__(
        self, message: str, *, command_id: int, sequence_id: int, status: int | None
    ) -> None:
        super().__init__(message, status=status)
        self.command_id = command_id
        self.sequence_id = sequence_id


# ------------------------------------------------------------------ field tables

_CONNECT = Block(
    ("source_addr", TEXT, SOURCE_ADDR_SIZE),
    ("authenticator_source", OCTETS, AUTHENTICATOR_SIZE),
    ("version", U8),
    ("timestamp", U32),
)
_CONNECT_RESP = {
    V20: Block(("status", U8), ("authenticator_ismg", OCTETS, AUTHENTICATOR_SIZE), ("version", U8)),
    V30: Block(
        ("status", U32), ("authenticator_ismg", OCTETS, AUTHENTICATOR_SIZE), ("version", U8)
    ),
}
_EMPTY = Block()


def _submit_head(version: CmppVersion) -> Block:
    fee_terminal: tuple[FieldSpec, ...] = (("fee_terminal_id", TEXT, TERMINAL_ID_SIZE[version]),)
    if version is V30:
        fee_terminal += (("fee_terminal_type", U8),)
    return Block(
        ("msg_id", U64),
        ("pk_total", U8),
        ("pk_number", U8),
        ("registered_delivery", U8),
        ("msg_level", U8),
        ("service_id", TEXT, SERVICE_ID_SIZE),
        ("fee_user_type", U8),
        *fee_terminal,
        ("tp_pid", U8),
        ("tp_udhi", U8),
        ("msg_fmt", U8),
        ("msg_src", TEXT, MSG_SRC_SIZE),
        ("fee_type", TEXT, FEE_TYPE_SIZE),
        ("fee_code", TEXT, FEE_CODE_SIZE),
        ("valid_time", TEXT, TIME_SIZE),
        ("at_time", TEXT, TIME_SIZE),
        ("src_id", TEXT, SRC_ID_SIZE),
    )


def _deliver_head(version: CmppVersion) -> Block:
    src_terminal: tuple[FieldSpec, ...] = (("src_terminal_id", TEXT, TERMINAL_ID_SIZE[version]),)
    if version is V30:
        src_terminal += (("src_terminal_type", U8),)
    return Block(
        ("msg_id", U64),
        ("dest_id", TEXT, DEST_ID_SIZE),
        ("service_id", TEXT, SERVICE_ID_SIZE),
        ("tp_pid", U8),
        ("tp_udhi", U8),
        ("msg_fmt", U8),
        *src_terminal,
        ("registered_delivery", U8),
    )


_SUBMIT_HEAD = {v: _submit_head(v) for v in (V20, V30)}
_DELIVER_HEAD = {v: _deliver_head(v) for v in (V20, V30)}
_RESULT = {V20: U8, V30: U32}
_SUBMIT_RESP = {v: Block(("msg_id", U64), ("result", _RESULT[v])) for v in (V20, V30)}
_DELIVER_RESP = _SUBMIT_RESP
_CANCEL = Block(("msg_id", U64))
_CANCEL_RESP = {v: Block(("success_id", _RESULT[v])) for v in (V20, V30)}
_QUERY = Block(
    ("time", TEXT, QUERY_TIME_SIZE),
    ("query_type", U8),
    ("query_code", TEXT, QUERY_CODE_SIZE),
)
_QUERY_RESP = Block(
    ("time", TEXT, QUERY_TIME_SIZE),
    ("query_type", U8),
    ("query_code", TEXT, QUERY_CODE_SIZE),
    *((name, U32) for name in ("mt_tl_msg", "mt_tl_usr", "mt_scs", "mt_wt", "mt_fl")),
    *((name, U32) for name in ("mo_scs", "mo_wt", "mo_fl")),
)
_LINK_ID = Block(("link_id", TEXT, LINK_ID_SIZE))
_TRAILER_SIZE = {V20: RESERVE_SIZE, V30: LINK_ID_SIZE}
_V20_TRAILER = bytes(RESERVE_SIZE)

#: The largest PDU accepted: a 3.0 SUBMIT to the most destinations with the longest content.
MAX_PDU_LENGTH = (
    HEADER_SIZE
    + _SUBMIT_HEAD[V30].size
    + 1  # DestUsr_tl
    + TERMINAL_ID_SIZE[V30] * MAX_DESTINATIONS
    + 1  # Dest_terminal_type
    + 1  # Msg_Length
    + MAX_MSG_LENGTH
    + LINK_ID_SIZE
)


# ------------------------------------------------------------------------ encode


def _frame(command: int, sequence_id: int, body: bytes) -> bytes:
    try:
        header = _HEADER.pack(HEADER_SIZE + len(body), command, sequence_id)
    except struct.error as error:
        raise LocalProtocolError(f"sequence_id out of range: {sequence_id}") from error
    return header + body


def _u8(value: int, name: str) -> bytes:
    if not isinstance(value, int) or not 0 <= value <= 0xFF:
        raise LocalProtocolError(f"{name} must be 0..255, not {value!r}")
    return _U8.pack(value)


def _content(content: bytes) -> bytes:
    if not isinstance(content, bytes) or len(content) > MAX_MSG_LENGTH:
        raise LocalProtocolError(f"msg_content must be bytes of at most {MAX_MSG_LENGTH}")
    return _U8.pack(len(content)) + content


def _trailer(pdu: CmppSubmit | CmppDeliver, layout: CmppVersion) -> bytes:
    if layout is V30:
        return encode_text(pdu.link_id, LINK_ID_SIZE, "link_id")
    if pdu.link_id:
        raise LocalProtocolError("link_id exists only in CMPP 3.0")
    return _V20_TRAILER


def _encode_submit(pdu: CmppSubmit) -> bytes:
    layout = layout_of(pdu.version)
    if layout is V20 and (pdu.fee_terminal_type or pdu.dest_terminal_type):
        raise LocalProtocolError("terminal types exist only in CMPP 3.0")
    destinations = pdu.dest_terminal_ids
    if not 1 <= len(destinations) <= MAX_DESTINATIONS:
        raise LocalProtocolError(f"a SUBMIT needs 1..{MAX_DESTINATIONS} destinations")
    slot = TERMINAL_ID_SIZE[layout]
    parts = [_SUBMIT_HEAD[layout].pack(pdu), _U8.pack(len(destinations))]
    parts.extend(encode_text(number, slot, "dest_terminal_id") for number in destinations)
    if layout is V30:
        parts.append(_u8(pdu.dest_terminal_type, "dest_terminal_type"))
    parts.append(_content(pdu.msg_content))
    parts.append(_trailer(pdu, layout))
    return _frame(CmppCommand.SUBMIT, pdu.sequence_id, b"".join(parts))


def _encode_deliver(pdu: CmppDeliver) -> bytes:
    layout = layout_of(pdu.version)
    if layout is V20 and pdu.src_terminal_type:
        raise LocalProtocolError("src_terminal_type exists only in CMPP 3.0")
    body = _DELIVER_HEAD[layout].pack(pdu) + _content(pdu.msg_content) + _trailer(pdu, layout)
    return _frame(CmppCommand.DELIVER, pdu.sequence_id, body)


def _fixed(command: CmppCommand, block: Block, reserved: int = 0) -> Callable[[Any], bytes]:
    padding = bytes(reserved)

    def encode_fixed_pdu(pdu: Any) -> bytes:
        return _frame(command, pdu.sequence_id, block.pack(pdu) + padding)

    return encode_fixed_pdu


def _versioned(command: CmppCommand, blocks: dict[CmppVersion, Block]) -> Callable[[Any], bytes]:
    def encode_versioned_pdu(pdu: Any) -> bytes:
        return _frame(command, pdu.sequence_id, blocks[layout_of(pdu.version)].pack(pdu))

    return encode_versioned_pdu


_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    CmppConnect: _fixed(CmppCommand.CONNECT, _CONNECT),
    CmppConnectResp: _versioned(CmppCommand.CONNECT_RESP, _CONNECT_RESP),
    CmppTerminate: _fixed(CmppCommand.TERMINATE, _EMPTY),
    CmppTerminateResp: _fixed(CmppCommand.TERMINATE_RESP, _EMPTY),
    CmppSubmit: _encode_submit,
    CmppSubmitResp: _versioned(CmppCommand.SUBMIT_RESP, _SUBMIT_RESP),
    CmppDeliver: _encode_deliver,
    CmppDeliverResp: _versioned(CmppCommand.DELIVER_RESP, _DELIVER_RESP),
    CmppQuery: _fixed(CmppCommand.QUERY, _QUERY, QUERY_RESERVE_SIZE),
    CmppQueryResp: _fixed(CmppCommand.QUERY_RESP, _QUERY_RESP),
    CmppCancel: _fixed(CmppCommand.CANCEL, _CANCEL),
    CmppCancelResp: _versioned(CmppCommand.CANCEL_RESP, _CANCEL_RESP),
    CmppActiveTest: _fixed(CmppCommand.ACTIVE_TEST, _EMPTY),
    CmppActiveTestResp: _fixed(CmppCommand.ACTIVE_TEST_RESP, _EMPTY, ACTIVE_TEST_RESERVED_SIZE),
}


def encode(pdu: CmppPdu) -> bytes:
    """The wire bytes of ``pdu``; LocalProtocolError if a field cannot be encoded."""
    encoder = _ENCODERS.get(type(pdu))
    if encoder is None:
        raise LocalProtocolError(f"not a CMPP PDU: {type(pdu).__name__}")
    return encoder(pdu)


# ------------------------------------------------------------------------ decode

_Reader = Callable[[bytes, CmppVersion], dict[str, Any]]


def _short(message: str) -> RemoteProtocolError:
    return RemoteProtocolError(message)


def _read_block(block: Block, reserved: int = 0) -> _Reader:
    def read(frame: bytes, layout: CmppVersion) -> dict[str, Any]:
        _expect(frame, block.size + reserved)
        return block.unpack(frame, HEADER_SIZE)

    return read


def _read_versioned(blocks: dict[CmppVersion, Block]) -> _Reader:
    def read(frame: bytes, layout: CmppVersion) -> dict[str, Any]:
        block = blocks[layout]
        _expect(frame, block.size)
        fields = block.unpack(frame, HEADER_SIZE)
        fields["version"] = layout
        return fields

    return read


def _expect(frame: bytes, body_size: int) -> None:
    if len(frame) != HEADER_SIZE + body_size:
        raise _short(f"body is {len(frame) - HEADER_SIZE} bytes, expected {body_size}")


def _read_connect_resp(frame: bytes, layout: CmppVersion) -> dict[str, Any]:
    # Recognised by length: a server may answer in a layout other than the one we asked.
    for block in _CONNECT_RESP.values():
        if len(frame) == HEADER_SIZE + block.size:
            return block.unpack(frame, HEADER_SIZE)
    raise _short(f"CONNECT_RESP of {len(frame)} bytes is neither 2.0 (30) nor 3.0 (33)")


def _read_content(frame: bytes, offset: int, trailer: int) -> tuple[bytes, int]:
    if len(frame) < offset + 1:
        raise _short("frame ends before Msg_Length")
    length = frame[offset]
    end = offset + 1 + length
    if len(frame) != end + trailer:
        raise _short(f"Msg_Length {length} does not match the frame length {len(frame)}")
    return frame[offset + 1 : end], end


def _read_trailer(frame: bytes, offset: int, layout: CmppVersion, fields: dict[str, Any]) -> None:
    if layout is V30:
        fields.update(_LINK_ID.unpack(frame, offset))


def _read_submit(frame: bytes, layout: CmppVersion) -> dict[str, Any]:
    head = _SUBMIT_HEAD[layout]
    offset = HEADER_SIZE + head.size
    if len(frame) < offset + 1:
        raise _short("SUBMIT ends before DestUsr_tl")
    fields = head.unpack(frame, HEADER_SIZE)
    count, slot = frame[offset], TERMINAL_ID_SIZE[layout]
    offset += 1
    if len(frame) < offset + count * slot:
        raise _short(f"SUBMIT ends inside its {count} destinations")
    end = offset + count * slot
    fields["dest_terminal_ids"] = tuple(
        decode_fixed(frame[start : start + slot]) for start in range(offset, end, slot)
    )
    offset = end
    if layout is V30:
        if len(frame) < offset + 1:
            raise _short("SUBMIT ends before Dest_terminal_type")
        fields["dest_terminal_type"] = frame[offset]
        offset += 1
    fields["msg_content"], offset = _read_content(frame, offset, _TRAILER_SIZE[layout])
    _read_trailer(frame, offset, layout, fields)
    fields["version"] = layout
    return fields


def _read_deliver(frame: bytes, layout: CmppVersion) -> dict[str, Any]:
    head = _DELIVER_HEAD[layout]
    offset = HEADER_SIZE + head.size
    if len(frame) < offset:
        raise _short("DELIVER ends inside its fixed fields")
    fields = head.unpack(frame, HEADER_SIZE)
    fields["msg_content"], offset = _read_content(frame, offset, _TRAILER_SIZE[layout])
    _read_trailer(frame, offset, layout, fields)
    fields["version"] = layout
    return fields


#: command id -> (PDU class, reader, status to answer a malformed body with)
_DECODERS: dict[int, tuple[type, _Reader, int | None]] = {
    CmppCommand.CONNECT: (CmppConnect, _read_block(_CONNECT), CmppConnectStatus.BAD_STRUCTURE),
    CmppCommand.CONNECT_RESP: (CmppConnectResp, _read_connect_resp, None),
    CmppCommand.TERMINATE: (CmppTerminate, _read_block(_EMPTY), None),
    CmppCommand.TERMINATE_RESP: (CmppTerminateResp, _read_block(_EMPTY), None),
    CmppCommand.SUBMIT: (CmppSubmit, _read_submit, CmppSubmitResult.BAD_LENGTH),
    CmppCommand.SUBMIT_RESP: (CmppSubmitResp, _read_versioned(_SUBMIT_RESP), None),
    CmppCommand.DELIVER: (CmppDeliver, _read_deliver, CmppDeliverResult.BAD_LENGTH),
    CmppCommand.DELIVER_RESP: (CmppDeliverResp, _read_versioned(_DELIVER_RESP), None),
    CmppCommand.QUERY: (CmppQuery, _read_block(_QUERY, QUERY_RESERVE_SIZE), None),
    CmppCommand.QUERY_RESP: (CmppQueryResp, _read_block(_QUERY_RESP), None),
    CmppCommand.CANCEL: (CmppCancel, _read_block(_CANCEL), CmppCancelResult.FAILED),
    CmppCommand.CANCEL_RESP: (CmppCancelResp, _read_versioned(_CANCEL_RESP), None),
    CmppCommand.ACTIVE_TEST: (CmppActiveTest, _read_block(_EMPTY), None),
    CmppCommand.ACTIVE_TEST_RESP: (
        CmppActiveTestResp,
        _read_block(_EMPTY, ACTIVE_TEST_RESERVED_SIZE),
        None,
    ),
}


def decode(frame: bytes, version: int = V30) -> CmppPdu:
    """Decode one whole frame (length prefix included) in the layout of ``version``."""
    if len(frame) < HEADER_SIZE:
        raise RemoteProtocolError(f"frame of {len(frame)} bytes is shorter than the header")
    length, command, sequence_id = _HEADER.unpack_from(frame)
    entry = _DECODERS.get(command)
    if entry is None:
        raise CmppFrameError(
            f"unknown command id {command:#010x}",
            command_id=command,
            sequence_id=sequence_id,
            status=CmppSubmitResult.BAD_COMMAND,
        )
    cls, reader, status = entry
    if length != len(frame):
        raise RemoteProtocolError(f"Total_Length {length} but the frame is {len(frame)} bytes")
    try:
        fields = reader(frame, layout_of(version))
    except RemoteProtocolError as error:
        raise CmppFrameError(
            f"{CmppCommand(command).name}: {error}",
            command_id=command,
            sequence_id=sequence_id,
            status=status,
        ) from error
    pdu: CmppPdu = cls(sequence_id=sequence_id, **fields)
    return pdu


class Decoder:
    """Incremental decoder: feed bytes, then iterate :meth:`pdus`.

    ``version`` selects the 2.0 or 3.0 layout and may change between PDUs (a server
    learns it from CONNECT); it applies to every PDU not yet yielded.
    """

    __slots__ = ("_framer", "_layout")

    def __init__(self, version: int = V30, *, max_length: int = MAX_PDU_LENGTH) -> None:
        self._framer = LengthPrefixedFramer(min_length=HEADER_SIZE, max_length=max_length)
        self._layout = layout_of(version)

    @property
    def version(self) -> CmppVersion:
        return self._layout

    @version.setter
    def version(self, value: int) -> None:
        self._layout = layout_of(value)

    @property
    def buffered(self) -> int:
        """Bytes held that do not yet make a whole PDU."""
        return self._framer.buffered

    def feed(self, data: bytes) -> None:
        """Add bytes received from the peer."""
        self._framer.feed(data)

    def pdus(self) -> Iterator[CmppPdu]:
        """Yield each whole PDU buffered so far; keep a partial one for later."""
        for frame in self._framer.frames():
            yield decode(frame, self._layout)
