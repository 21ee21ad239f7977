"""CMPP wire codec: the field table of every PDU, in the 2.0 and 3.0 layouts.

The tables are run by the shared engine (:mod:`duanxin.protocols.core.codec`). CMPP's own
rules: SUBMIT, DELIVER and the answers whose Result/Status is 1 byte in 2.0 and 4 in 3.0
have a layout per version (terminal ids 21 or 32 bytes; 3.0-only fields absent from 2.0,
whose 8-byte Reserve stands where 3.0 has LinkID); the decoder reads them in the version
it is told (``Decoder.version``, set once CONNECT has said it), except CONNECT_RESP, which
is recognised by its length.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping

from duanxin.protocols.cmpp import pdu as c
from duanxin.protocols.cmpp.pdu import CmppVersion, CommandId, Pdu, layout_of
from duanxin.protocols.core import codec
from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.query import COUNTERS
from duanxin.protocols.core.table import (
    SEQUENCE_ID_HEADER,
    U8,
    U32,
    U64,
    Absent,
    Bytes,
    Items,
    Kind,
    Octets,
    Reserved,
    Table,
    Text,
)
from duanxin.protocols.core.table import FrameError as FrameError

V20, V30 = CmppVersion.V20, CmppVersion.V30
_ONLY_30 = "exists only in CMPP 3.0"


def _only_in_30(version: CmppVersion, name: str, kind: Kind, default: object) -> Table:
    return ((name, kind),) if version is V30 else ((name, Absent(default, _ONLY_30)),)


def _versioned(version: CmppVersion, table: Table) -> Table:
    return (*table, ("version", Absent(version, checked=False)))


def _trailer(version: CmppVersion) -> Table:
    if version is V30:
        return (("link_id", Text(c.LINK_ID_SIZE)),)
    return (("reserve", Reserved(c.RESERVE_SIZE)), ("link_id", Absent("", _ONLY_30)))


def _submit(v: CmppVersion) -> Table:
    terminal = Text(c.TERMINAL_ID_SIZE[v])
    return _versioned(
        v,
        (
            ("msg_id", U64),
            ("pk_total", U8),
            ("pk_number", U8),
            ("registered_delivery", U8),
            ("msg_level", U8),
            ("service_id", Text(c.SERVICE_ID_SIZE)),
            ("fee_user_type", U8),
            ("fee_terminal_id", terminal),
            *_only_in_30(v, "fee_terminal_type", U8, 0),
            ("tp_pid", U8),
            ("tp_udhi", U8),
            ("msg_fmt", U8),
            ("msg_src", Text(c.MSG_SRC_SIZE)),
            ("fee_type", Text(c.FEE_TYPE_SIZE)),
            ("fee_code", Text(c.FEE_CODE_SIZE)),
            ("valid_time", Text(c.TIME_SIZE)),
            ("at_time", Text(c.TIME_SIZE)),
            ("src_id", Text(c.SRC_ID_SIZE)),
            ("dest_terminal_ids", Items("B", terminal, 1, c.MAX_DESTINATIONS)),
            *_only_in_30(v, "dest_terminal_type", U8, 0),
            ("msg_content", Bytes("B", c.MAX_MSG_LENGTH)),
            *_trailer(v),
        ),
    )


def _deliver(v: CmppVersion) -> Table:
    return _versioned(
        v,
        (
            ("msg_id", U64),
            ("dest_id", Text(c.DEST_ID_SIZE)),
            ("service_id", Text(c.SERVICE_ID_SIZE)),
            ("tp_pid", U8),
            ("tp_udhi", U8),
            ("msg_fmt", U8),
            ("src_terminal_id", Text(c.TERMINAL_ID_SIZE[v])),
            *_only_in_30(v, "src_terminal_type", U8, 0),
            ("registered_delivery", U8),
            ("msg_content", Bytes("B", c.MAX_MSG_LENGTH)),
            *_trailer(v),
        ),
    )


_RESULT = {V20: U8, V30: U32}  # Status / Result / Success_Id: 1 byte in 2.0, 4 in 3.0
_QUERY: Table = (
    ("time", Text(c.QUERY_TIME_SIZE)),
    ("query_type", U8),
    ("query_code", Text(c.QUERY_CODE_SIZE)),
)
_COUNTERS = ("mt_tl_msg", "mt_tl_usr", *COUNTERS)


#: Each PDU class: its command id and field table (per version where they differ).
_PDUS: dict[type[Pdu], tuple[int, Table] | Mapping[Hashable, tuple[int, Table]]] = {
    c.CmppConnect: (
        CommandId.CONNECT,
        (
            ("source_addr", Text(c.SOURCE_ADDR_SIZE)),
            ("authenticator_source", Octets(c.AUTHENTICATOR_SIZE)),
            ("version", U8),
            ("timestamp", U32),
        ),
    ),
    c.CmppConnectResp: {
        v: (
            CommandId.CONNECT_RESP,
            (
                ("status", _RESULT[v]),
                ("authenticator_ismg", Octets(c.AUTHENTICATOR_SIZE)),
                ("version", U8),
            ),
        )
        for v in (V20, V30)
    },
    c.CmppTerminate: (CommandId.TERMINATE, ()),
    c.CmppTerminateResp: (CommandId.TERMINATE_RESP, ()),
    c.CmppSubmit: {v: (CommandId.SUBMIT, _submit(v)) for v in (V20, V30)},
    c.CmppSubmitResp: {
        v: (CommandId.SUBMIT_RESP, _versioned(v, (("msg_id", U64), ("result", _RESULT[v]))))
        for v in (V20, V30)
    },
    c.CmppDeliver: {v: (CommandId.DELIVER, _deliver(v)) for v in (V20, V30)},
    c.CmppDeliverResp: {
        v: (CommandId.DELIVER_RESP, _versioned(v, (("msg_id", U64), ("result", _RESULT[v]))))
        for v in (V20, V30)
    },
    c.CmppQuery: (CommandId.QUERY, (*_QUERY, ("reserve", Reserved(c.QUERY_RESERVE_SIZE)))),
    c.CmppQueryResp: (CommandId.QUERY_RESP, (*_QUERY, *((n, U32) for n in _COUNTERS))),
    c.CmppCancel: (CommandId.CANCEL, (("msg_id", U64),)),
    c.CmppCancelResp: {
        v: (CommandId.CANCEL_RESP, _versioned(v, (("success_id", _RESULT[v]),))) for v in (V20, V30)
    },
    c.CmppActiveTest: (CommandId.ACTIVE_TEST, ()),
    c.CmppActiveTestResp: (
        CommandId.ACTIVE_TEST_RESP,
        (("reserved", Reserved(c.ACTIVE_TEST_RESERVED_SIZE)),),
    ),
}
CODEC: codec.Codec[Pdu] = codec.Codec(
    "CMPP",
    SEQUENCE_ID_HEADER,
    _PDUS,
    statuses={
        CommandId.CONNECT: c.CmppConnectStatus.BAD_STRUCTURE,
        CommandId.SUBMIT: c.CmppSubmitResult.BAD_LENGTH,
        CommandId.DELIVER: c.CmppDeliverResult.BAD_LENGTH,
        CommandId.CANCEL: c.CmppCancelResult.FAILED,
    },
    unknown_status=c.CmppSubmitResult.BAD_COMMAND,
)

#: The largest PDU accepted: a 3.0 SUBMIT to the most destinations with the longest content.
MAX_PDU_SIZE = (
    CODEC.layout(c.CmppSubmit, V30).size
    + 1  # DestUsr_tl
    + c.TERMINAL_ID_SIZE[V30] * c.MAX_DESTINATIONS
    + 1  # Dest_terminal_type
    + 1  # Msg_Length
    + c.MAX_MSG_LENGTH
    + c.LINK_ID_SIZE
)
_CONNECT_RESP = CommandId.CONNECT_RESP.to_bytes(4, "big")
#: CONNECT_RESP's layout by its length: a server may answer in a version we did not ask.
_CONNECT_RESP_BY_LENGTH = {CODEC.layout(c.CmppConnectResp, v).size: v for v in (V20, V30)}


def _encoder(cls: type[Pdu]) -> Callable[[Pdu], bytes]:
    if cls not in CODEC.versioned:
        return CODEC.layout(cls).encode
    by_version = (CODEC.layout(cls, V20).encode, CODEC.layout(cls, V30).encode)

    def encode_versioned(pdu: Pdu) -> bytes:
        return by_version[pdu.version >= V30](pdu)  # type: ignore[union-attr]

    return encode_versioned


_ENCODERS = {cls: _encoder(cls) for cls in CODEC.by_class[None]}


def encode(pdu: Pdu) -> bytes:
    """The wire bytes of ``pdu`` in the layout of its ``version``."""
    encoder = _ENCODERS.get(type(pdu))
    if encoder is None:
        raise LocalProtocolError(f"not a CMPP PDU: {type(pdu).__name__}")
    return encoder(pdu)


def decode(frame: bytes, version: object = V30) -> Pdu:
    """Decode one whole frame (length prefix included) in the layout of ``version``."""
    variant = layout_of(version if isinstance(version, int) else V30)
    if frame[4:8] == _CONNECT_RESP:
        variant = _CONNECT_RESP_BY_LENGTH.get(len(frame), variant)
    return CODEC.decode(frame, variant)


class Decoder(codec.Decoder[Pdu]):
    """CMPP's incremental decoder; ``version`` (2.0 or 3.0 layout) may change between PDUs."""

    def __init__(self, version: int = V30, *, max_length: int = MAX_PDU_SIZE) -> None:
        super().__init__(
            decode, min_length=c.HEADER_SIZE, max_length=max_length, variant=layout_of(version)
        )

    @property
    def version(self) -> CmppVersion:
        return layout_of(self.variant if isinstance(self.variant, int) else V30)

    @version.setter
    def version(self, value: int) -> None:
        self.variant = layout_of(value)
