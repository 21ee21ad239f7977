"""Delivery statistics per hour or day, from the counters kept as messages move
(:mod:`duanxin.store.stats`): never a scan of the messages table.

Per period (and per carrier, channel and account when asked): ``submitted`` (every number
sent, refused ones included), ``delivered``, ``failed`` (and by stat), ``pending`` (no final
report yet), ``delivery_rate`` (delivered of those with a final report), the median and
95th-percentile report delay (seconds from the carrier's acceptance to its report, as the
upper bound of its histogram bucket), ``billed`` and ``refunded`` units.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from duanxin.domain.stats import quantile
from duanxin.service.platform import Platform
from duanxin.store import history as history_store
from duanxin.store import stats as stats_store

__all__ = ["DIMENSIONS", "Grain", "StatLine", "statistics"]

DIMENSIONS = ("carrier", "channel", "account")
CUSTOMER_DIMENSIONS = ("carrier",)
MAX_PERIODS = {"hour": 24 * 92, "day": 366 * 3}


class Grain(StrEnum):
    HOUR = "hour"
    DAY = "day"


@dataclass(frozen=True, slots=True)
class StatLine:
    period: datetime
    carrier: str | None
    channel: str | None
    account: str | None
    submitted: int
    delivered: int
    failed: int
    pending: int
    delivery_rate: float | None
    delay_p50: float | None
    delay_p95: float | None
    billed: int
    refunded: int
    failed_by_stat: dict[str, int]


def _range(
    grain: Grain, since: datetime | None, until: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    until = until or now
    default = timedelta(days=6) if grain is Grain.DAY else timedelta(hours=23)
    since = since or stats_store.period_of(stats_store.HOUR, until - default)
    if since > until:
        raise ValueError("since is after until")
    step = timedelta(days=1) if grain is Grain.DAY else timedelta(hours=1)
    if (until - since) / step > MAX_PERIODS[grain.value]:
        raise ValueError(f"at most {MAX_PERIODS[grain.value]} {grain.value}s at a time")
    return since, until


async def statistics(
    platform: Platform,
    *,
    grain: Grain = Grain.DAY,
    since: datetime | None = None,
    until: datetime | None = None,
    by: Sequence[str] = (),
    account_id: int | None = None,
) -> list[StatLine]:
    """The counters per period from ``since`` to ``until`` (default: the last 7 days or
    24 hours), of one account or all, split by ``by`` (``carrier``, ``channel``,
    ``account``)."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"cannot split by {', '.join(unknown)}: use {', '.join(DIMENSIONS)}")
    since, until = _range(grain, since, until, platform.clock())
    code = stats_store.DAY if grain is Grain.DAY else stats_store.HOUR
    dims = [d for d in DIMENSIONS if d in by]
    async with platform.reader.connect() as conn:
        rows = await stats_store.totals(conn, code, since, until, account_id=account_id, by=dims)
        fails = await stats_store.failures(conn, code, since, until, account_id=account_id, by=dims)
        channels = await history_store.channel_names(conn) if "channel" in dims else {}
        accounts = await history_store.account_names(conn) if "account" in dims else {}
    lines = []
    for row in rows:
        c = row.counters
        key = (row.period, *(getattr(row, stats_store.DIMENSIONS[d]) for d in dims))
        delays = [c[name] for name in stats_store.DELAYS]
        decided = c["delivered"] + c["failed"]
        lines.append(
            StatLine(
                period=row.period,
                carrier=row.carrier,
                channel=None if row.channel_id is None else channels.get(row.channel_id, ""),
                account=None if row.account_id is None else accounts.get(row.account_id, ""),
                submitted=c["submitted"],
                delivered=c["delivered"],
                failed=c["failed"],
                pending=c["submitted"] - decided,
                delivery_rate=round(c["delivered"] / decided, 4) if decided else None,
                delay_p50=quantile(delays, 0.5),
                delay_p95=quantile(delays, 0.95),
                billed=c["billed"],
                refunded=c["refunded"],
                failed_by_stat=dict(sorted(fails.get(key, {}).items())),
            )
        )
    return lines
