"""Final reports and replies waiting for their account to pull them (each handed out once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store.tables import accounts, messages, replies, reports

__all__ = ["FinalReport", "Reply", "finish", "insert_replies", "pull_replies", "pull_reports"]


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


async def finish(
    conn: AsyncConnection, finals: Sequence[FinalReport], *, mark_messages: bool = True
) -> None:
    """Write final reports and close their messages (idempotent per mid)."""
    if not finals:
        return
    mids = [f.mid for f in finals]
    existing = set(
        (await conn.execute(select(reports.c.mid).where(reports.c.mid.in_(mids)))).scalars()
    )
    fresh = [f for f in finals if f.mid not in existing]
    if not fresh:
        return
    await conn.execute(
        insert(reports),
        [
            {
                "account_id": f.account_id,
                "mid": f.mid,
                "mobile": f.mobile,
                "stat": f.stat,
                "access_code": f.access_code,
                "reported_at": f.reported_at,
                "pulled": False,
            }
            for f in fresh
        ],
    )
    if mark_messages:
        await conn.execute(
            update(messages)
            .where(messages.c.mid == bindparam("b_mid"))
            .values(state="done", stat=bindparam("b_stat"), done_at=bindparam("b_done_at")),
            [{"b_mid": f.mid, "b_stat": f.stat, "b_done_at": f.reported_at} for f in fresh],
        )


async def _pull(conn: AsyncConnection, table: Any, account_id: int, size: int) -> list[Any]:
    query = (
        select(table, accounts.c.spid)
        .join(accounts, accounts.c.id == table.c.account_id)
        .where(table.c.account_id == account_id, table.c.pulled.is_(False))
        .order_by(table.c.id)
        .limit(size)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(of=table, skip_locked=True)
    rows = list((await conn.execute(query)).mappings())
    if rows:
        await conn.execute(
            update(table).where(table.c.id.in_([r["id"] for r in rows])).values(pulled=True)
        )
    return rows


async def pull_reports(conn: AsyncConnection, account_id: int, size: int) -> list[Any]:
    """Up to ``size`` unpulled reports, oldest first, now marked pulled."""
    return await _pull(conn, reports, account_id, size)


async def pull_replies(conn: AsyncConnection, account_id: int, size: int) -> list[Any]:
    return await _pull(conn, replies, account_id, size)


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
