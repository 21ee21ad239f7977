"""The traffic counters of a query answer: CMPP and SMGP come from one Chinese standard."""

from __future__ import annotations

from typing import Annotated

from duanxin.protocols.core.table import U32, Last, SequenceIdHeader

__all__ = ["QueryCounters"]

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
