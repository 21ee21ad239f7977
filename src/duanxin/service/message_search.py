"""Messages and replies as people look for them (the console), with each message's history.

A customer's search is always limited to its own account (``account_id``): the front door
passes the signed-in account, never one a request names.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from duanxin.domain.numbers import normalise_mobile
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store
from duanxin.store import message_search as search_store
from duanxin.store import messages as message_store
from duanxin.store.message_search import MessageRow, ReplyRow
from duanxin.store.messages import SegmentRow

__all__ = [
    "HistoryLine",
    "MessageHistory",
    "MessageQuery",
    "find_messages",
    "find_replies",
    "message_history",
]

MAX_RESULTS = 500
MID_LENGTH = 16


@dataclass(frozen=True, slots=True)
class MessageQuery:
    mid: str | None = None
    mobile: str | None = None
    account: str | None = None  # the operator's filter; customers' searches ignore it
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class HistoryLine:
    at: datetime
    kind: str  # accepted, an EventKind, submitted, reported
    channel: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class MessageHistory:
    message: MessageRow
    lines: list[HistoryLine]
    segments: list[SegmentRow]


def _mid(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    mid = raw.strip().upper()
    if len(mid) != MID_LENGTH or any(c not in "0123456789ABCDEF" for c in mid):
        raise ValueError("mid must be 16 hex digits")
    return mid


def _mobile(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    return normalise_mobile(raw.strip()) or raw.strip()


async def find_messages(
    platform: Platform, query: MessageQuery, *, account_id: int | None = None
) -> list[MessageRow]:
    """Messages matching ``query``; with ``account_id``, only that account's."""
    if not 1 <= query.limit <= MAX_RESULTS:
        raise ValueError(f"limit must be 1 to {MAX_RESULTS}")
    async with platform.reader.connect() as conn:
        if account_id is None and query.account:
            found = await account_store.find_account(conn, query.account.strip())
            if found is None:
                raise LookupError(f"no account {query.account.strip()!r}")
            account_id = found.id
        return await search_store.find_messages(
            conn,
            mid=_mid(query.mid),
            mobile=_mobile(query.mobile),
            account_id=account_id,
            since=query.since,
            until=query.until,
            limit=query.limit,
        )


async def message_history(
    platform: Platform, mid: str, *, account_id: int | None = None
) -> MessageHistory | None:
    """One message and what happened to it, oldest first (None: no such message, or not
    the given account's)."""
    wanted = _mid(mid)
    if wanted is None:
        return None
    async with platform.reader.connect() as conn:
        found = await search_store.find_messages(conn, mid=wanted, account_id=account_id, limit=1)
        if not found:
            return None
        events = await search_store.events_of(conn, wanted)
        segments = (await message_store.segments_for(conn, [wanted]))[wanted]
    message = found[0]
    lines = [HistoryLine(message.created_at, "accepted", None, f"{message.segments} segment(s)")]
    lines += [HistoryLine(e.at, e.kind, e.channel, e.detail) for e in events]
    if message.submitted_at is not None and not any(e.kind == "submitted" for e in events):
        lines.append(HistoryLine(message.submitted_at, "submitted", message.channel, ""))
    if message.done_at is not None:
        lines.append(HistoryLine(message.done_at, "reported", message.channel, message.stat or ""))
    lines.sort(key=lambda line: line.at)
    return MessageHistory(message, lines, segments)


async def find_replies(
    platform: Platform,
    *,
    account_id: int | None = None,
    account: str | None = None,
    mobile: str | None = None,
    limit: int = 100,
) -> list[ReplyRow]:
    """Replies received, newest first; ``account_id`` (a customer's) wins over ``account``."""
    async with platform.reader.connect() as conn:
        if account_id is None and account:
            found = await account_store.find_account(conn, account.strip())
            if found is None:
                raise LookupError(f"no account {account.strip()!r}")
            account_id = found.id
        return await search_store.find_replies(
            conn, account_id=account_id, mobile=(mobile or "").strip() or None, limit=limit
        )
