"""What CMPP and SMGP share, coming from one Chinese standard: field kinds and the traffic
counters of a query answer."""

from __future__ import annotations

from typing import Annotated, ClassVar

from duanxin.protocols.core.table import U32, Bytes, Octets, SequenceIdHeader

__all__ = ["AUTHENTICATOR_SIZE", "Content", "Digest", "QueryCounters", "Word"]

AUTHENTICATOR_SIZE = 16
Digest = Annotated[bytes, Octets(AUTHENTICATOR_SIZE)]  # the login authenticators
Word = Annotated[int, U32]
Content = Annotated[bytes, Bytes("B", 0xFF)]  # behind its one-byte length


class QueryCounters(SequenceIdHeader):
    """Delivered, waiting and failed counts of MT and MO messages (CMPP QUERY_RESP, SMGP
    Query_Resp; each names its two totals its own way), on the wire after the answer's own."""

    __trailing__: ClassVar[bool] = True

    mt_scs: Word = 0
    mt_wt: Word = 0
    mt_fl: Word = 0
    mo_scs: Word = 0
    mo_wt: Word = 0
    mo_fl: Word = 0
