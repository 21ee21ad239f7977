"""Statistics counters, kept as messages move (never computed from the messages table).

Each number sent adds to the counters of its cell: the hour and the day it was accepted,
its account, carrier and the channel it is on (0 until a carrier accepted it). Accepted:
``submitted`` and ``billed``; a refused number is also ``failed`` at once. Wholly accepted
by a carrier: the counts move from the channel it was on to the new one. Final report:
``delivered`` or ``failed`` (and its stat in ``stat_failures``), the report delay's
histogram bucket, and ``refunded`` units. ``pending`` is ``submitted - delivered - failed``.

Writes are upserts adding deltas (``ON CONFLICT DO UPDATE SET n = n + excluded.n``, the same
on SQLite and PostgreSQL), in key order so concurrent transactions do not deadlock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain
from typing import Any

from sqlalchemy import ColumnElement, Table, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.stats import BUCKETS, delay_bucket
from duanxin.domain.status import DELIVERED
from duanxin.store import prepared
from duanxin.store.tables import stat_failures, stats

__all__ = [
    "COUNTERS",
    "DIMENSIONS",
    "Finished",
    "Grain",
    "StatRow",
    "count_finished",
    "count_sends",
    "count_sent",
    "count_submitted",
    "failures",
    "period_of",
    "totals",
]

HOUR, DAY = "h", "d"
Grain = str
DELAYS = tuple(f"d{i}" for i in range(BUCKETS))
COUNTERS = ("submitted", "delivered", "failed", "billed", "refunded", *DELAYS)
KEY = ("grain", "period", "account_id", "carrier", "channel_id")
DIMENSIONS = {"account": "account_id", "carrier": "carrier", "channel": "channel_id"}

_Cell = tuple[int, str, int, datetime]  # account, carrier, channel, accepted at


def period_of(grain: Grain, moment: datetime) -> datetime:
    """The start of the hour or day ``moment`` falls in."""
    hour = moment.replace(minute=0, second=0, microsecond=0)
    return hour.replace(hour=0) if grain == DAY else hour


@dataclass
class _Deltas:
    counters: dict[tuple[Any, ...], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    )
    failed: dict[tuple[Any, ...], int] = field(default_factory=lambda: defaultdict(int))

    def add(self, cell: _Cell, **counts: int) -> None:
        # Run per message by every submit record and final report: the hour found once.
        account_id, carrier, channel_id, accepted = cell
        hour = accepted.replace(minute=0, second=0, microsecond=0)
        counters = self.counters
        for key in (
            (HOUR, hour, account_id, carrier, channel_id),
            (DAY, hour.replace(hour=0), account_id, carrier, channel_id),
        ):
            row = counters[key]
            for name, count in counts.items():
                row[name] += count

    def fail(self, cell: _Cell, stat: str, count: int = 1) -> None:
        account_id, carrier, channel_id, accepted = cell
        for grain in (HOUR, DAY):
            key = (grain, period_of(grain, accepted), account_id, carrier, channel_id, stat)
            self.failed[key] += count

    async def write(self, conn: AsyncConnection) -> None:
        rows = [
            (*key, *counts.values())
            for key, counts in sorted(self.counters.items())
            if any(counts.values())
        ]
        if rows:
            await prepared.execute_many(conn, _ADD_STATS, rows)
        fail_rows = [(*key, count) for key, count in sorted(self.failed.items())]
        if fail_rows:
            await prepared.execute_many(conn, _ADD_FAILURES, fail_rows)


def _adding_upsert(
    table: str, key: Sequence[str], counters: Sequence[str], others: Sequence[str] = ()
) -> prepared.Sql:
    """``table``'s upsert adding ``counters`` to the row of ``key`` (parameters: the key's
    values, then the counters', in these orders); a new row has ``others`` at 0."""
    columns = [*key, *counters, *others]
    values = [*(f"${i}" for i in range(1, len(key) + len(counters) + 1)), *("0" for _ in others)]
    adds = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in counters)
    return prepared.Sql(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(values)}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {adds}"
    )


_SENT = ("submitted", "billed", "failed")
_ADD_SENT = _adding_upsert("stats", KEY, _SENT, [c for c in COUNTERS if c not in _SENT])
_ADD_STATS = _adding_upsert("stats", KEY, COUNTERS)
_ADD_FAILURES = _adding_upsert("stat_failures", (*KEY, "stat"), ("count",))
_SUBMITTED_CELLS = prepared.Sql(
    """SELECT mid, account_id, carrier, channel_id, created_at, charged, state
    FROM messages WHERE mid = ANY($1)""",
    times=(4,),
)


async def count_sent(conn: AsyncConnection, rows: Iterable[Mapping[str, Any]]) -> None:
    """Count numbers just stored by a send (rows as for ``messages``): each is submitted
    and billed; one refused at once (it has its stat already) is failed too."""
    # Every send runs this: its rows are added up per counter row here, in plain tuples.
    cells: dict[tuple[Any, ...], list[int]] = {}
    failed: dict[tuple[_Cell, str], int] = defaultdict(int)
    # A send's rows share one time: its hour and day are worked out once.
    periods: dict[datetime, tuple[tuple[Grain, datetime], ...]] = {}
    for row in rows:
        account_id, carrier, created_at = row["account_id"], row["carrier"], row["created_at"]
        stat = row.get("stat")
        grains = periods.get(created_at)
        if grains is None:
            grains = periods[created_at] = tuple((g, period_of(g, created_at)) for g in (HOUR, DAY))
        for grain, period in grains:
            key = (grain, period, account_id, carrier, 0)
            counts = cells.get(key)
            if counts is None:
                counts = cells[key] = [0, 0, 0]
            counts[0] += 1
            counts[1] += row["charged"]
            if stat:
                counts[2] += 1
        if stat:
            failed[((account_id, carrier, 0, created_at), stat)] += 1
    if cells:
        await prepared.execute_many(
            conn, _ADD_SENT, [(*key, *counts) for key, counts in sorted(cells.items())]
        )
    if failed:
        deltas = _Deltas()
        for (cell, stat), count in failed.items():
            deltas.fail(cell, stat, count)
        await deltas.write(conn)


async def count_sends(conn: AsyncConnection, sends: Iterable[Iterable[Mapping[str, Any]]]) -> None:
    """:func:`count_sent` for several sends at once: one upsert per counter row for all."""
    await count_sent(conn, chain.from_iterable(sends))


async def count_submitted(conn: AsyncConnection, moved: Mapping[str, int]) -> None:
    """Messages now wholly accepted by a carrier (mid -> channel id), counted on that
    channel from now on. Call before the messages rows record the new channel."""
    if not moved:
        return
    rows = await prepared.fetch(conn, _SUBMITTED_CELLS, list(moved))
    deltas = _Deltas()
    for mid, account_id, carrier, old, created_at, charged, state in rows:
        new = moved[mid]
        if state == "done" or (old or 0) == new:
            continue
        deltas.add((account_id, carrier, old or 0, created_at), submitted=-1, billed=-charged)
        deltas.add((account_id, carrier, new, created_at), submitted=1, billed=charged)
    await deltas.write(conn)


@dataclass(frozen=True, slots=True)
class Finished:
    """A message that just got its final report, as the counters need it."""

    account_id: int
    carrier: str
    channel_id: int | None
    created_at: datetime
    submitted_at: datetime | None
    stat: str
    reported_at: datetime
    refunded: int = 0


async def count_finished(conn: AsyncConnection, finished: Sequence[Finished]) -> None:
    """Count final reports: delivered or failed by stat, delay and refunds."""
    deltas = _Deltas()
    for item in finished:
        cell = (item.account_id, item.carrier, item.channel_id or 0, item.created_at)
        counts = {"refunded": item.refunded}
        if item.stat == DELIVERED:
            counts["delivered"] = 1
        else:
            counts["failed"] = 1
            deltas.fail(cell, item.stat)
        if item.submitted_at is not None:
            delay = (item.reported_at - item.submitted_at).total_seconds()
            counts[DELAYS[delay_bucket(max(0.0, delay))]] = 1
        deltas.add(cell, **counts)
    await deltas.write(conn)


@dataclass(frozen=True, slots=True)
class StatRow:
    """Summed counters of one period (and of the dimensions asked for)."""

    period: datetime
    account_id: int | None
    carrier: str | None
    channel_id: int | None
    counters: dict[str, int]


def _filters(
    table: Table, grain: Grain, since: datetime, until: datetime, account_id: int | None
) -> list[ColumnElement[bool]]:
    where = [
        table.c.grain == grain,
        table.c.period >= period_of(grain, since),
        table.c.period <= until,
    ]
    if account_id is not None:
        where.append(table.c.account_id == account_id)
    return where


async def totals(
    conn: AsyncConnection,
    grain: Grain,
    since: datetime,
    until: datetime,
    *,
    account_id: int | None = None,
    by: Sequence[str] = (),
) -> list[StatRow]:
    """The counters of every period from ``since`` to ``until``, summed over the cells,
    per period and per each of ``by`` (``account``, ``carrier``, ``channel``)."""
    dims = [stats.c[DIMENSIONS[d]] for d in by]
    query = (
        select(stats.c.period, *dims, *(func.sum(stats.c[c]).label(c) for c in COUNTERS))
        .where(*_filters(stats, grain, since, until, account_id))
        .group_by(stats.c.period, *dims)
        .order_by(stats.c.period, *dims)
    )
    found = []
    for row in (await conn.execute(query)).mappings():
        found.append(
            StatRow(
                row["period"],
                row["account_id"] if "account" in by else None,
                row["carrier"] if "carrier" in by else None,
                row["channel_id"] if "channel" in by else None,
                {c: int(row[c] or 0) for c in COUNTERS},
            )
        )
    return found


async def failures(
    conn: AsyncConnection,
    grain: Grain,
    since: datetime,
    until: datetime,
    *,
    account_id: int | None = None,
    by: Sequence[str] = (),
) -> dict[tuple[Any, ...], dict[str, int]]:
    """Failed counts by stat, keyed like :func:`totals` rows: (period, *dimensions)."""
    table = stat_failures
    dims = [table.c[DIMENSIONS[d]] for d in by]
    query = (
        select(table.c.period, *dims, table.c.stat, func.sum(table.c.count))
        .where(*_filters(table, grain, since, until, account_id))
        .group_by(table.c.period, *dims, table.c.stat)
    )
    found: dict[tuple[Any, ...], dict[str, int]] = defaultdict(dict)
    for row in await conn.execute(query):
        *key, stat, count = row
        found[tuple(key)][stat] = int(count)
    return dict(found)


def day_after(moment: datetime) -> datetime:
    return period_of(DAY, moment) + timedelta(days=1)
