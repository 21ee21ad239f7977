"""Finding messages and replies for people (the console): by number, id, account, time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store.tables import accounts, channels, message_events, messages, replies

__all__ = ["EventRow", "MessageRow", "ReplyRow", "events_of", "find_messages", "find_replies"]


@dataclass(frozen=True, slots=True)
class MessageRow:
    mid: str
    account: str
    mobile: str
    carrier: str
    content: str
    state: str
    stat: str | None
    channel: str | None
    segments: int
    charged: int
    created_at: datetime
    submitted_at: datetime | None
    done_at: datetime | None


@dataclass(frozen=True, slots=True)
class EventRow:
    at: datetime
    kind: str
    channel: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class ReplyRow:
    mid: str
    account: str
    mobile: str
    access_code: str
    content: str
    received_at: datetime


async def find_messages(
    conn: AsyncConnection,
    *,
    mid: str | None = None,
    mobile: str | None = None,
    account_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[MessageRow]:
    """Messages matching every filter given, newest first."""
    query = (
        select(
            messages.c.mid,
            accounts.c.account,
            messages.c.mobile,
            messages.c.carrier,
            messages.c.content,
            messages.c.state,
            messages.c.stat,
            channels.c.name.label("channel"),
            messages.c.segments,
            messages.c.charged,
            messages.c.created_at,
            messages.c.submitted_at,
            messages.c.done_at,
        )
        .select_from(
            messages.join(accounts, accounts.c.id == messages.c.account_id).outerjoin(
                channels, channels.c.id == messages.c.channel_id
            )
        )
        .order_by(messages.c.created_at.desc(), messages.c.mid.desc())
        .limit(limit)
    )
    if mid is not None:
        query = query.where(messages.c.mid == mid)
    if mobile is not None:
        query = query.where(messages.c.mobile == mobile)
    if account_id is not None:
        query = query.where(messages.c.account_id == account_id)
    if since is not None:
        query = query.where(messages.c.created_at >= since)
    if until is not None:
        query = query.where(messages.c.created_at < until)
    return [MessageRow(**row) for row in (await conn.execute(query)).mappings()]


async def events_of(conn: AsyncConnection, mid: str) -> list[EventRow]:
    rows = await conn.execute(
        select(message_events.c.at, message_events.c.kind, channels.c.name, message_events.c.detail)
        .select_from(
            message_events.outerjoin(channels, channels.c.id == message_events.c.channel_id)
        )
        .where(message_events.c.mid == mid)
        .order_by(message_events.c.id)
    )
    return [EventRow(*row) for row in rows]


async def find_replies(
    conn: AsyncConnection,
    *,
    account_id: int | None = None,
    mobile: str | None = None,
    limit: int = 100,
) -> list[ReplyRow]:
    """Replies received, newest first (whether pulled or not: this does not pull them)."""
    query = (
        select(
            replies.c.mid,
            accounts.c.account,
            replies.c.mobile,
            replies.c.access_code,
            replies.c.content,
            replies.c.received_at,
        )
        .select_from(replies.join(accounts, accounts.c.id == replies.c.account_id))
        .order_by(replies.c.id.desc())
        .limit(limit)
    )
    if account_id is not None:
        query = query.where(replies.c.account_id == account_id)
    if mobile is not None:
        query = query.where(replies.c.mobile.contains(mobile, autoescape=True))
    return [ReplyRow(*row) for row in (await conn.execute(query)).all()]
