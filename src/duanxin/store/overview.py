"""What the operator's dashboard reads: counts of the day, per-minute rates, recent errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, case, cast, func, select, text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import ColumnElement

from duanxin.domain.status import DELIVERED
from duanxin.store.messages import MessageState
from duanxin.store.tables import channels, message_events, messages

__all__ = [
    "CountRow",
    "ErrorRow",
    "channel_rows",
    "counts_since",
    "per_minute",
    "ping",
    "recent_errors",
    "report_delays",
]

ERROR_KINDS = ("refused", "failed", "throttled", "no_response", "link_lost")


@dataclass(frozen=True, slots=True)
class CountRow:
    carrier: str
    channel: str | None  # None: not handed to a channel yet (or refused before)
    submitted: int
    delivered: int
    failed: int
    pending: int


@dataclass(frozen=True, slots=True)
class ErrorRow:
    at: datetime
    mid: str
    kind: str
    channel: str | None
    detail: str


def _sum(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(cast(case((condition, 1), else_=0), Integer)), 0)


async def counts_since(conn: AsyncConnection, since: datetime) -> list[CountRow]:
    """Messages accepted since ``since``, by carrier and channel, by how they stand."""
    done = messages.c.state == MessageState.DONE.value
    query = (
        select(
            messages.c.carrier,
            channels.c.name,
            func.count(),
            _sum(and_(done, messages.c.stat == DELIVERED)),
            _sum(and_(done, messages.c.stat != DELIVERED)),
            _sum(messages.c.state != MessageState.DONE.value),
        )
        .select_from(messages.outerjoin(channels, channels.c.id == messages.c.channel_id))
        .where(messages.c.created_at >= since)
        .group_by(messages.c.carrier, channels.c.name)
        .order_by(messages.c.carrier, channels.c.name)
    )
    rows = await conn.execute(query)
    return [CountRow(c, n, int(t), int(d), int(f), int(p)) for c, n, t, d, f, p in rows]


def _minute(conn: AsyncConnection, column: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return func.to_char(func.date_trunc("minute", column), "YYYY-MM-DD HH24:MI")
    return func.strftime("%Y-%m-%d %H:%M", column)


async def per_minute(
    conn: AsyncConnection, since: datetime, column: str, created_since: datetime
) -> dict[str, int]:
    """Messages per minute (``"YYYY-MM-DD HH:MM"``) since ``since``, by ``column``:
    ``created_at`` (accepted) or ``submitted_at`` (handed to a carrier); only messages
    accepted since ``created_since`` are read (the index on ``created_at`` bounds it)."""
    at = messages.c[column]
    minute = _minute(conn, at).label("minute")
    rows = await conn.execute(
        select(minute, func.count())
        .where(messages.c.created_at >= min(since, created_since), at >= since)
        .group_by(minute)
        .order_by(minute)
    )
    return {str(m): int(n) for m, n in rows}


async def report_delays(
    conn: AsyncConnection, since: datetime, limit: int
) -> list[tuple[datetime, datetime]]:
    """(submitted, reported) of the latest messages accepted since ``since`` that have
    their report."""
    rows = await conn.execute(
        select(messages.c.submitted_at, messages.c.done_at)
        .where(
            messages.c.created_at >= since,
            messages.c.submitted_at.is_not(None),
            messages.c.done_at.is_not(None),  # not the state: its index would be chosen
        )
        .order_by(messages.c.created_at.desc())
        .limit(limit)
    )
    return [(s, d) for s, d in rows]


async def recent_errors(conn: AsyncConnection, limit: int) -> list[ErrorRow]:
    rows = await conn.execute(
        select(
            message_events.c.at,
            message_events.c.mid,
            message_events.c.kind,
            channels.c.name,
            message_events.c.detail,
        )
        .select_from(
            message_events.outerjoin(channels, channels.c.id == message_events.c.channel_id)
        )
        .where(message_events.c.kind.in_(ERROR_KINDS))
        .order_by(message_events.c.id.desc())
        .limit(limit)
    )
    return [ErrorRow(*row) for row in rows]


async def ping(conn: AsyncConnection) -> None:
    await conn.execute(text("SELECT 1"))


async def channel_rows(conn: AsyncConnection) -> list[RowMapping]:
    """Every configured channel (its password left out), oldest first."""
    columns = [c for c in channels.c if c.name != "password"]
    return list((await conn.execute(select(*columns).order_by(channels.c.id))).mappings())
