"""CMPP wire codec: the tables of :mod:`.pdu` in both layouts, run by the shared engine.

The decoder reads SUBMIT, DELIVER and their answers in the version it is told
(``Decoder.version``, set once CONNECT has said it); CONNECT_RESP is recognised by its length.
"""

from __future__ import annotations

import typing

from duanxin.protocols.cmpp import pdu as c
from duanxin.protocols.cmpp.pdu import CmppVersion, CommandId, Pdu, layout_of
from duanxin.protocols.core import codec
from duanxin.protocols.core.table import SEQUENCE_ID_HEADER, FrameError, Reserved, declared

__all__ = ["MAX_PDU_SIZE", "Decoder", "FrameError", "decode", "encode"]

V20, V30 = CmppVersion.V20, CmppVersion.V30
#: Each PDU class's command id and table (per version where they differ); ACTIVE_TEST_RESP
#: is a lone reserved byte.
_PDUS = declared(typing.get_args(Pdu), CommandId, "Cmpp", (V20, V30))
_PDUS[c.CmppActiveTestResp] = (CommandId.ACTIVE_TEST_RESP, (("reserved", Reserved(1)),))
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
    variant_of=lambda pdu: V30 if pdu.version >= V30 else V20,  # type: ignore[union-attr]
)
#: The wire bytes of a PDU in the layout of its ``version``.
encode = CODEC.encode

#: The largest PDU accepted: a 3.0 SUBMIT to 99 destinations with 255 content bytes fits.
MAX_PDU_SIZE = 3607
_CONNECT_RESP = CommandId.CONNECT_RESP.to_bytes(4, "big")
#: CONNECT_RESP's layout by its length: a server may answer in a version we did not ask.
_CONNECT_RESP_BY_LENGTH = {CODEC.layout(c.CmppConnectResp, v).size: v for v in (V20, V30)}


def decode(frame: bytes, version: object = V30) -> Pdu:
    """Decode one whole frame (length prefix included) in the layout of ``version``."""
    variant = layout_of(version if isinstance(version, int) else V30)
    if frame[4:8] == _CONNECT_RESP:
        variant = _CONNECT_RESP_BY_LENGTH.get(len(frame), variant)
    return CODEC.decode(frame, variant)


class Decoder(codec.Decoder[Pdu]):
    """CMPP's incremental decoder; ``version`` (2.0 or 3.0 layout) may change between PDUs."""

    def __init__(self, version: int = V30) -> None:
        super().__init__(CODEC, MAX_PDU_SIZE, decode=decode, variant=layout_of(version))

    @property
    def version(self) -> CmppVersion:
        return layout_of(self.variant if isinstance(self.variant, int) else V30)

    @version.setter
    def version(self, value: int) -> None:
        self.variant = layout_of(value)
