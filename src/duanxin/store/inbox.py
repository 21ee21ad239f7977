"""An account's inbox: final reports and replies waiting for their consumer.

Each item is handed out once, to whichever consumer takes it first: an HTTP pull, a push
to the account's callback, or a CMPP/SMPP DELIVER on one of the account's connections.
Consumers that may fail after taking an item (push, DELIVER) claim it for a while first.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    RowMapping,
    Table,
    and_,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store import prepared
from duanxin.store.tables import accounts, replies, reports

__all__ = [
    "FinalReport",
    "Kind",
    "Reply",
    "ack",
    "claim",
    "count_waiting",
    "count_waiting_up_to",
    "finish",
    "insert_replies",
    "pull",
    "pull_replies",
    "pull_reports",
    "release",
    "table_of",
]


@dataclass(frozen=True, slots=True)
class FinalReport:
    """The one report a ``mid`` ends with."""

    account_id: int
    mid: str
    mobile: str
    stat: str
    access_code: str
    reported_at: datetime


@dataclass(frozen=True, slots=True)
class Reply:
    account_id: int
    mid: str
    mobile: str
    access_code: str
    content: str
    received_at: datetime


# Every report match and every send with a refused number run these (store.prepared).
_REPORTED = prepared.Sql("SELECT mid FROM reports WHERE mid = ANY($1)")
_INSERT_REPORT = prepared.Sql(
    """INSERT INTO reports (account_id, mid, mobile, stat, access_code, reported_at, pulled)
    VALUES ($1, $2, $3, $4, $5, $6, FALSE)"""
)
_MARK_DONE = prepared.Sql(
    "UPDATE messages SET state = 'done', stat = $2, done_at = $3 WHERE mid = $1"
)


async def finish(
    conn: AsyncConnection, finals: Sequence[FinalReport], *, mark_messages: bool = True
) -> None:
    """Write final reports and close their messages (idempotent per mid)."""
    if not finals:
        return
    mids = [f.mid for f in finals]
    existing = {row[0] for row in await prepared.fetch(conn, _REPORTED, mids)}
    fresh = [f for f in finals if f.mid not in existing]
    if not fresh:
        return
    await prepared.execute_many(
        conn,
        _INSERT_REPORT,
        [(f.account_id, f.mid, f.mobile, f.stat, f.access_code, f.reported_at) for f in fresh],
    )
    if mark_messages:
        await prepared.execute_many(
            conn, _MARK_DONE, [(f.mid, f.stat, f.reported_at) for f in fresh]
        )


class Kind(enum.Enum):
    """The two kinds of item an account's inbox holds."""

    REPORTS = "reports"
    REPLIES = "replies"


_TABLES: dict[Kind, Table] = {Kind.REPORTS: reports, Kind.REPLIES: replies}


def table_of(kind: Kind) -> Table:
    """The table that holds items of ``kind``."""
    return _TABLES[kind]


def _waiting(table: Table, account_id: int, now: datetime) -> ColumnElement[bool]:
    """Not handed out, and not held by a consumer whose claim is still running."""
    return and_(
        table.c.account_id == account_id,
        table.c.pulled.is_(False),
        or_(table.c.claimed_until.is_(None), table.c.claimed_until <= now),
    )


async def _take(
    conn: AsyncConnection, table: Table, account_id: int, size: int, now: datetime
) -> list[RowMapping]:
    query = (
        select(table, accounts.c.spid)
        .join(accounts, accounts.c.id == table.c.account_id)
        .where(_waiting(table, account_id, now))
        .order_by(table.c.id)
        .limit(size)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=table, skip_locked=True)
    return list((await conn.execute(query)).mappings())


async def pull(
    conn: AsyncConnection, kind: Kind, account_id: int, size: int, now: datetime
) -> list[RowMapping]:
    """Up to ``size`` waiting items, oldest first, now handed out for good."""
    table = _TABLES[kind]
    rows = await _take(conn, table, account_id, size, now)
    if rows:
        await conn.execute(
            update(table)
            .where(table.c.id.in_([r["id"] for r in rows]))
            .values(pulled=True, claimed_by=None, claimed_until=None)
        )
    return rows


async def pull_reports(
    conn: AsyncConnection, account_id: int, size: int, now: datetime
) -> list[RowMapping]:
    """Up to ``size`` waiting reports, oldest first, now marked pulled."""
    return await pull(conn, Kind.REPORTS, account_id, size, now)


async def pull_replies(
    conn: AsyncConnection, account_id: int, size: int, now: datetime
) -> list[RowMapping]:
    return await pull(conn, Kind.REPLIES, account_id, size, now)


async def claim(
    conn: AsyncConnection,
    kind: Kind,
    account_id: int,
    consumer: str,
    size: int,
    now: datetime,
    until: datetime,
) -> list[RowMapping]:
    """Hold up to ``size`` waiting items for ``consumer`` until ``until``, oldest first.

    A consumer that pushes or delivers items claims them, sends them, then either
    :func:`ack`s them (handed out: no one else will see them) or :func:`release`s them
    (waiting again, for any consumer, pulls included). A claim nobody answers ends by
    itself at ``until``. Claiming again items the consumer already holds extends them.
    """
    table = _TABLES[kind]
    rows = await _take(conn, table, account_id, size, now)
    if rows:
        await conn.execute(
            update(table)
            .where(table.c.id.in_([r["id"] for r in rows]))
            .values(claimed_by=consumer, claimed_until=until)
        )
    return rows


async def ack(conn: AsyncConnection, kind: Kind, ids: Sequence[int], consumer: str) -> int:
    """Hand out for good the items ``consumer`` holds among ``ids``; how many were held.

    An item whose claim ran out and that another consumer took since is not touched.
    """
    table = _TABLES[kind]
    if not ids:
        return 0
    result = await conn.execute(
        update(table)
        .where(table.c.id.in_(list(ids)), table.c.claimed_by == consumer)
        .values(pulled=True, claimed_by=None, claimed_until=None)
    )
    return result.rowcount


async def release(
    conn: AsyncConnection, kind: Kind, ids: Sequence[int] | None, consumer: str
) -> int:
    """Give back the items ``consumer`` holds among ``ids`` (all of them if ``None``)."""
    table = _TABLES[kind]
    query = update(table).where(table.c.claimed_by == consumer, table.c.pulled.is_(False))
    if ids is not None:
        if not ids:
            return 0
        query = query.where(table.c.id.in_(list(ids)))
    result = await conn.execute(query.values(claimed_by=None, claimed_until=None))
    return result.rowcount


async def count_waiting(conn: AsyncConnection, kind: Kind, account_id: int, now: datetime) -> int:
    """How many items wait for a consumer (not handed out, not claimed)."""
    table = _TABLES[kind]
    query = select(func.count()).select_from(table).where(_waiting(table, account_id, now))
    return int((await conn.execute(query)).scalar_one())


async def count_waiting_up_to(
    conn: AsyncConnection, kind: Kind, account_id: int, now: datetime, cap: int
) -> int:
    """As :func:`count_waiting`, but counting no further than ``cap`` (cheap on a backlog)."""
    table = _TABLES[kind]
    waiting = select(table.c.id).where(_waiting(table, account_id, now)).limit(cap).subquery()
    query = select(func.count()).select_from(waiting)
    return int((await conn.execute(query)).scalar_one())


async def insert_replies(conn: AsyncConnection, items: Sequence[Reply]) -> None:
    if items:
        await conn.execute(
            insert(replies),
            [
                {
                    "account_id": r.account_id,
                    "mid": r.mid,
                    "mobile": r.mobile,
                    "access_code": r.access_code,
                    "content": r.content,
                    "received_at": r.received_at,
                    "pulled": False,
                }
                for r in items
            ],
        )
