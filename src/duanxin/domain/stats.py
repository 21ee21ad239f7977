"""Report-delay histograms: fixed buckets, so that counters can be added up anywhere.

A report's delay is the time from the carrier accepting the message to its report; it is
counted in the first bucket whose upper bound it does not exceed (the last has none). The
median and 95th percentile of a set of counters are read off the summed histogram as the
upper bound of the bucket the quantile falls in (an over-estimate by at most one bucket).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["DELAY_BOUNDS", "delay_bucket", "quantile"]

#: Upper bounds in seconds of buckets 0..14; bucket 15 holds everything slower.
DELAY_BOUNDS: tuple[float, ...] = (
    1, 2, 3, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600,
)  # fmt: skip
BUCKETS = len(DELAY_BOUNDS) + 1


def delay_bucket(seconds: float) -> int:
    """The bucket of a delay of ``seconds`` (negative delays count as none)."""
    for index, bound in enumerate(DELAY_BOUNDS):
        if seconds <= bound:
            return index
    return len(DELAY_BOUNDS)


def quantile(histogram: Sequence[int], q: float) -> float | None:
    """The ``q``-quantile (0 < q <= 1) of a histogram, as its bucket's upper bound in
    seconds (``inf`` in the open last bucket); ``None`` for an empty histogram."""
    total = sum(histogram)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for index, count in enumerate(histogram):
        seen += count
        if seen >= rank and count:
            return DELAY_BOUNDS[index] if index < len(DELAY_BOUNDS) else float("inf")
    return float("inf")
