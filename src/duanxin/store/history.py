"""A message's history and an account's ledger, as stored (read-only queries).

Searches go through the indexes on ``messages`` (account and time, mobile and time) and
the history tables' indexes by mid; nothing here scans a whole table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import RowMapping, select
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store.tables import (
    accounts,
    channels,
    ledger,
    message_events,
    messages,
    reports,
    segments,
)

__all__ = [
    "account_names",
    "channel_names",
    "events_for",
    "find_messages",
    "ledger_for_references",
    "ledger_page",
    "reports_for",
    "segments_of",
]


async def find_messages(
    conn: AsyncConnection,
    *,
    mid: str | None = None,
    account_id: int | None = None,
    mobile: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[RowMapping]:
    """Messages (with the account's name), newest first."""
    query = select(messages, accounts.c.account.label("account")).join(
        accounts, accounts.c.id == messages.c.account_id
    )
    if mid is not None:
        query = query.where(messages.c.mid == mid)
    if account_id is not None:
        query = query.where(messages.c.account_id == account_id)
    if mobile is not None:
        query = query.where(messages.c.mobile == mobile)
    if since is not None:
        query = query.where(messages.c.created_at >= since)
    if until is not None:
        query = query.where(messages.c.created_at <= until)
    query = query.order_by(messages.c.created_at.desc(), messages.c.mid.desc())
    return list((await conn.execute(query.limit(limit).offset(offset))).mappings())


async def segments_of(conn: AsyncConnection, mids: Sequence[str]) -> dict[str, list[RowMapping]]:
    found: dict[str, list[RowMapping]] = defaultdict(list)
    if mids:
        query = (
            select(segments)
            .where(segments.c.mid.in_(list(mids)))
            .order_by(segments.c.mid, segments.c.number, segments.c.id)
        )
        for row in (await conn.execute(query)).mappings():
            found[row["mid"]].append(row)
    return found


async def events_for(conn: AsyncConnection, mids: Sequence[str]) -> dict[str, list[RowMapping]]:
    found: dict[str, list[RowMapping]] = defaultdict(list)
    if mids:
        query = (
            select(message_events)
            .where(message_events.c.mid.in_(list(mids)))
            .order_by(message_events.c.mid, message_events.c.id)
        )
        for row in (await conn.execute(query)).mappings():
            found[row["mid"]].append(row)
    return found


async def reports_for(conn: AsyncConnection, mids: Sequence[str]) -> dict[str, RowMapping]:
    if not mids:
        return {}
    query = select(reports).where(reports.c.mid.in_(list(mids)))
    return {row["mid"]: row for row in (await conn.execute(query)).mappings()}


async def ledger_for_references(
    conn: AsyncConnection, account_ids: Sequence[int], references: Sequence[str]
) -> dict[str, list[RowMapping]]:
    """Ledger rows about these mids (a send's charge names its first mid, a refund its own)."""
    found: dict[str, list[RowMapping]] = defaultdict(list)
    if references and account_ids:
        query = (
            select(ledger)
            .where(
                ledger.c.account_id.in_(sorted(set(account_ids))),
                ledger.c.reference.in_(list(references)),
            )
            .order_by(ledger.c.id)
        )
        for row in (await conn.execute(query)).mappings():
            found[row["reference"]].append(row)
    return found


async def channel_names(conn: AsyncConnection) -> dict[int, str]:
    return {i: n for i, n in await conn.execute(select(channels.c.id, channels.c.name))}


async def account_names(conn: AsyncConnection) -> dict[int, str]:
    return {i: n for i, n in await conn.execute(select(accounts.c.id, accounts.c.account))}


async def ledger_page(
    conn: AsyncConnection,
    account_id: int,
    *,
    before_id: int | None,
    limit: int,
    since: datetime | None = None,
    until: datetime | None = None,
    reason: str | None = None,
) -> list[RowMapping]:
    """Ledger rows of the account, newest first, older than ``before_id`` if given."""
    query = select(ledger).where(ledger.c.account_id == account_id)
    if before_id is not None:
        query = query.where(ledger.c.id < before_id)
    if since is not None:
        query = query.where(ledger.c.created_at >= since)
    if until is not None:
        query = query.where(ledger.c.created_at <= until)
    if reason is not None:
        query = query.where(ledger.c.reason == reason)
    query = query.order_by(ledger.c.id.desc()).limit(limit)
    return list((await conn.execute(query)).mappings())
