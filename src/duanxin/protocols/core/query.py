"""The traffic counters of a query answer: CMPP and SMGP come from one Chinese standard."""

from __future__ import annotations

from duanxin.protocols.core.table import SequenceIdHeader

__all__ = ["COUNTERS", "QueryCounters"]


class QueryCounters(SequenceIdHeader):
    """Delivered, waiting and failed counts of MT and MO messages (CMPP QUERY_RESP, SMGP
    Query_Resp; each names its two totals its own way)."""

    mt_scs: int = 0
    mt_wt: int = 0
    mt_fl: int = 0
    mo_scs: int = 0
    mo_wt: int = 0
    mo_fl: int = 0


#: The counters' field names, in wire order after the two totals.
COUNTERS = ("mt_scs", "mt_wt", "mt_fl", "mo_scs", "mo_wt", "mo_fl")
