"""What CMPP and SMGP share, coming from one Chinese standard: field kinds and the traffic
counters of a query answer."""

from __future__ import annotations

from typing import Annotated

from duanxin.protocols.core.table import U32, Bytes, Last, Octets, SequenceIdHeader

__all__ = ["AUTHENTICATOR_SIZE", "Content", "Digest", "QueryCounters", "Word"]

AUTHENTICATOR_SIZE = 16
Digest = Annotated[bytes, Octets(AUTHENTICATOR_SIZE)]  # the login authenticators
Word = Annotated[int, U32]
Content = Annotated[bytes, Bytes("B", 0xFF)]  # behind its one-byte length
#: On the wire after the answer's own fields.
Counter = Annotated[int, U32, Last()]


class QueryCounters(SequenceIdHeader):
    """Delivered, waiting and failed counts of MT and MO messages (CMPP QUERY_RESP, SMGP
    Query_Resp; each names its two totals its own way)."""

    mt_scs: Counter = 0
    mt_wt: Counter = 0
    mt_fl: Counter = 0
    mo_scs: Counter = 0
    mo_wt: Counter = 0
    mo_fl: Counter = 0
