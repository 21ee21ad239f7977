"""SMGP 3.0 codec: the tables of :mod:`.pdu`, run by the shared engine; every malformed
body is answered with "bad message structure"."""

from __future__ import annotations

import typing
from functools import partial

from duanxin.protocols.core import codec
from duanxin.protocols.core.table import SEQUENCE_ID_HEADER, Fault, Reserved, declared, table_of
from duanxin.protocols.core.table import FrameError as FrameError
from duanxin.protocols.smgp import pdu as s
from duanxin.protocols.smgp.pdu import CommandId, Pdu, SmgpStatus

__all__ = ["MAX_PDU_SIZE", "Decoder", "FrameError", "decode", "encode"]

# The largest legal PDU is a Submit to 100 destinations with 255 content bytes (2,481
# bytes) plus TLVs; anything far beyond that is garbage, not a message.
MAX_PDU_SIZE = 4096

#: Each PDU class's command id and table; Query_Resp ends in 8 reserved bytes.
_PDUS = declared(typing.get_args(Pdu), CommandId, "Smgp")
_PDUS[s.SmgpQueryResp] = (
    CommandId.QUERY_RESP,
    (*table_of(s.SmgpQueryResp), ("reserve", Reserved(s.RESERVE_SIZE))),
)
CODEC: codec.Codec[Pdu] = codec.Codec(
    "SMGP",
    SEQUENCE_ID_HEADER,
    _PDUS,
    faults=dict.fromkeys(Fault, SmgpStatus.BAD_STRUCTURE),
    unknown_status=SmgpStatus.BAD_COMMAND,
)
encode = CODEC.encode
decode = CODEC.decode
#: The incremental decoder: ``Decoder()``, then ``feed`` bytes and iterate ``pdus()``.
Decoder = partial(codec.Decoder[Pdu], CODEC, MAX_PDU_SIZE)
