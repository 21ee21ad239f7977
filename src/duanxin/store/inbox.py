"""An account's inbox: final reports and replies waiting for their consumer.

Each item is handed out once, to whichever consumer takes it first: an HTTP pull, a push
to the account's callback, or a CMPP/SMPP DELIVER on one of the account's connections.
Consumers that may fail after taking an item (push, DELIVER) claim it for a while first.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store import prepared
from duanxin.store.tables import replies, reports

__all__ = [
    "FinalReport",
    "Item",
    "Kind",
    "Reply",
    "ack",
    "any_waiting",
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


#: The columns an item is handed out with (and the account's ``spid``), per kind.
_ITEM_COLUMNS: dict[Kind, tuple[str, ...]] = {
    Kind.REPORTS: ("id", "account_id", "mid", "mobile", "stat", "access_code", "reported_at"),
    Kind.REPLIES: ("id", "account_id", "mid", "mobile", "content", "access_code", "received_at"),
}
_TIME_COLUMN = 6  # reported_at / received_at in _ITEM_COLUMNS
_SPID = "spid"

# Not handed out, and not held by a consumer whose claim is still running ($1 the account,
# $2 now). ``pulled = FALSE`` (not ``IS``): PostgreSQL then walks (account_id, pulled, id).
_WAITING = "account_id = $1 AND pulled = FALSE AND (claimed_until IS NULL OR claimed_until <= $2)"


@dataclass(frozen=True, slots=True)
class _Statements:
    """An inbox table's hot statements (store.prepared): every delivery to a customer
    connection, every push and every pull runs them."""

    take: dict[str, prepared.Sql]  # dialect -> claim or pull the oldest $6 waiting items
    ack: prepared.Sql
    release_some: prepared.Sql
    release_all: prepared.Sql
    count: prepared.Sql
    count_up_to: prepared.Sql


def _statements(kind: Kind) -> _Statements:
    table = kind.value
    columns = ", ".join(_ITEM_COLUMNS[kind])

    # One statement claims or hands out: the oldest waiting items, updated and returned
    # with the account's spid (in no particular order: sorted by id after). PostgreSQL
    # skips rows another transaction is taking at the same moment.
    def take(lock: str) -> prepared.Sql:
        return prepared.Sql(
            f"""UPDATE {table} SET claimed_by = $3, claimed_until = $4, pulled = $5
            WHERE id IN (SELECT id FROM {table} WHERE {_WAITING} ORDER BY id LIMIT $6{lock})
            RETURNING {columns},
                (SELECT spid FROM accounts WHERE accounts.id = {table}.account_id)""",
            times=(_TIME_COLUMN,),
        )

    return _Statements(
        take={"sqlite": take(""), "postgresql": take(" FOR UPDATE SKIP LOCKED")},
        ack=prepared.Sql(
            f"""UPDATE {table} SET pulled = TRUE, claimed_by = NULL, claimed_until = NULL
            WHERE id = ANY($1) AND claimed_by = $2"""
        ),
        release_some=prepared.Sql(
            f"""UPDATE {table} SET claimed_by = NULL, claimed_until = NULL
            WHERE id = ANY($1) AND claimed_by = $2 AND pulled = FALSE"""
        ),
        release_all=prepared.Sql(
            f"""UPDATE {table} SET claimed_by = NULL, claimed_until = NULL
            WHERE claimed_by = $1 AND pulled = FALSE"""
        ),
        count=prepared.Sql(f"SELECT count(*) FROM {table} WHERE {_WAITING}"),
        count_up_to=prepared.Sql(
            f"SELECT count(*) FROM (SELECT id FROM {table} WHERE {_WAITING} LIMIT $3) AS waiting"
        ),
    )


_SQL: dict[Kind, _Statements] = {kind: _statements(kind) for kind in Kind}
# Whether an account has anything waiting of either kind: one look, on every idle round of
# each customer connection.
_ANY_WAITING = prepared.Sql(
    f"""SELECT EXISTS (SELECT 1 FROM reports WHERE {_WAITING})
    OR EXISTS (SELECT 1 FROM replies WHERE {_WAITING})"""
)

Item = Mapping[str, Any]


async def _take(
    conn: AsyncConnection,
    kind: Kind,
    account_id: int,
    size: int,
    now: datetime,
    *,
    consumer: str | None,
    until: datetime | None,
) -> list[Item]:
    if size <= 0:
        return []
    sql = _SQL[kind].take["postgresql" if conn.dialect.name == "postgresql" else "sqlite"]
    pulled = consumer is None
    rows = await prepared.fetch(conn, sql, account_id, now, consumer, until, pulled, size)
    names = (*_ITEM_COLUMNS[kind], _SPID)
    return [dict(zip(names, row, strict=True)) for row in sorted(rows, key=_first)]


def _first(row: prepared.Row) -> Any:
    return row[0]


async def pull(
    conn: AsyncConnection, kind: Kind, account_id: int, size: int, now: datetime
) -> list[Item]:
    """Up to ``size`` waiting items, oldest first, now handed out for good."""
    return await _take(conn, kind, account_id, size, now, consumer=None, until=None)


async def pull_reports(
    conn: AsyncConnection, account_id: int, size: int, now: datetime
) -> list[Item]:
    """Up to ``size`` waiting reports, oldest first, now marked pulled."""
    return await pull(conn, Kind.REPORTS, account_id, size, now)


async def pull_replies(
    conn: AsyncConnection, account_id: int, size: int, now: datetime
) -> list[Item]:
    return await pull(conn, Kind.REPLIES, account_id, size, now)


async def claim(
    conn: AsyncConnection,
    kind: Kind,
    account_id: int,
    consumer: str,
    size: int,
    now: datetime,
    until: datetime,
) -> list[Item]:
    """Hold up to ``size`` waiting items for ``consumer`` until ``until``, oldest first.

    A consumer that pushes or delivers items claims them, sends them, then either
    :func:`ack`s them (handed out: no one else will see them) or :func:`release`s them
    (waiting again, for any consumer, pulls included). A claim nobody answers ends by
    itself at ``until``. Claiming again items the consumer already holds extends them.
    Each item: its columns (``id``, ``mid``, ``mobile``, ``access_code``, ``stat`` and
    ``reported_at`` or ``content`` and ``received_at``) and the account's ``spid``.
    """
    return await _take(conn, kind, account_id, size, now, consumer=consumer, until=until)


async def ack(conn: AsyncConnection, kind: Kind, ids: Sequence[int], consumer: str) -> int:
    """Hand out for good the items ``consumer`` holds among ``ids``; how many were held.

    An item whose claim ran out and that another consumer took since is not touched.
    """
    if not ids:
        return 0
    return await _in_chunks(conn, _SQL[kind].ack, ids, consumer)


async def release(
    conn: AsyncConnection, kind: Kind, ids: Sequence[int] | None, consumer: str
) -> int:
    """Give back the items ``consumer`` holds among ``ids`` (all of them if ``None``)."""
    if ids is None:
        return await prepared.execute(conn, _SQL[kind].release_all, consumer)
    if not ids:
        return 0
    return await _in_chunks(conn, _SQL[kind].release_some, ids, consumer)


async def _in_chunks(
    conn: AsyncConnection, sql: prepared.Sql, ids: Sequence[int], consumer: str
) -> int:
    touched = 0
    for start in range(0, len(ids), prepared.MAX_LIST):
        touched += await prepared.execute(
            conn, sql, list(ids[start : start + prepared.MAX_LIST]), consumer
        )
    return touched


async def count_waiting(conn: AsyncConnection, kind: Kind, account_id: int, now: datetime) -> int:
    """How many items wait for a consumer (not handed out, not claimed)."""
    rows = await prepared.fetch(conn, _SQL[kind].count, account_id, now)
    return int(rows[0][0])


async def count_waiting_up_to(
    conn: AsyncConnection, kind: Kind, account_id: int, now: datetime, cap: int
) -> int:
    """As :func:`count_waiting`, but counting no further than ``cap`` (cheap on a backlog)."""
    rows = await prepared.fetch(conn, _SQL[kind].count_up_to, account_id, now, cap)
    return int(rows[0][0])


async def any_waiting(conn: AsyncConnection, account_id: int, now: datetime) -> bool:
    """Whether a report or a reply waits for a consumer of the account."""
    rows = await prepared.fetch(conn, _ANY_WAITING, account_id, now)
    return bool(rows[0][0])


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
