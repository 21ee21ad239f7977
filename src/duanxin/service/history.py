"""What happened to a message, and an account's ledger: the lookups behind
``/customer/messages``, ``/admin/messages``, ``/customer/ledger`` and the CLI.

A message's history: how it was accepted (front door, API key, time), each segment copy a
carrier accepted (channel, carrier id, its report), the delivery events worth telling
(throttled, retried, failed over ...; the first-try submit of a message has none), the
final report, and the ledger's charge and refund.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from duanxin.service.platform import Platform
from duanxin.store import history as history_store

__all__ = [
    "MAX_PAGE",
    "LedgerEntry",
    "LedgerPage",
    "MessageEvent",
    "MessageHistory",
    "SegmentSubmit",
    "ledger_page",
    "message_history",
    "search_messages",
]

MAX_PAGE = 500


@dataclass(frozen=True, slots=True)
class SegmentSubmit:
    number: int
    channel: str
    carrier_id: str
    stat: str | None
    reported_at: datetime | None  # when its report arrived
    carrier_time: datetime | None  # the report's own time, as the carrier wrote it


@dataclass(frozen=True, slots=True)
class MessageEvent:
    at: datetime
    kind: str
    channel: str | None
    detail: str


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    at: datetime
    delta: int
    balance_after: int
    reason: str  # send, refund, recharge ...
    reference: str


@dataclass(frozen=True, slots=True)
class MessageHistory:
    mid: str
    account: str
    mobile: str
    carrier: str
    content: str
    segments: int
    charged: int
    state: str
    stat: str | None
    via: str | None  # front door: http, cmpp ...
    key_id: str | None  # the API key (SecretId) that signed the send
    accepted_at: datetime
    submitted_at: datetime | None
    done_at: datetime | None
    channel: str | None
    attempts: int
    submits: tuple[SegmentSubmit, ...]
    events: tuple[MessageEvent, ...]
    report_stat: str | None
    report_at: datetime | None
    report_handed_out: bool  # pulled, pushed or delivered to the customer
    charge: LedgerEntry | None  # the send's charge (for all numbers of its request)
    refund: LedgerEntry | None


def _entry(row: Any) -> LedgerEntry:
    return LedgerEntry(
        row["id"],
        row["created_at"],
        row["delta"],
        row["balance_after"],
        row["reason"],
        row["reference"],
    )


async def _histories(platform: Platform, rows: Sequence[Any]) -> list[MessageHistory]:
    mids = [r["mid"] for r in rows]
    async with platform.reader.connect() as conn:
        channels = await history_store.channel_names(conn)
        submits = await history_store.segments_of(conn, mids)
        events = await history_store.events_for(conn, mids)
        finals = await history_store.reports_for(conn, mids)
        money = await history_store.ledger_for_references(
            conn, [r["account_id"] for r in rows], mids
        )
    found = []
    for row in rows:
        mid = row["mid"]
        entries = money.get(mid, [])
        charge = next((_entry(e) for e in entries if e["reason"] == "send"), None)
        refund = next((_entry(e) for e in entries if e["reason"] == "refund"), None)
        final = finals.get(mid)
        found.append(
            MessageHistory(
                mid=mid,
                account=row["account"],
                mobile=row["mobile"],
                carrier=row["carrier"],
                content=row["content"],
                segments=row["segments"],
                charged=row["charged"],
                state=row["state"],
                stat=row["stat"],
                via=row["via"],
                key_id=row["key_id"],
                accepted_at=row["created_at"],
                submitted_at=row["submitted_at"],
                done_at=row["done_at"],
                channel=channels.get(row["channel_id"]) if row["channel_id"] else None,
                attempts=row["attempts"],
                submits=tuple(
                    SegmentSubmit(
                        s["number"],
                        channels.get(s["channel_id"], str(s["channel_id"])),
                        s["carrier_id"],
                        s["stat"],
                        s["reported_at"],
                        s["carrier_time"],
                    )
                    for s in submits.get(mid, [])
                ),
                events=tuple(
                    MessageEvent(
                        e["at"],
                        e["kind"],
                        channels.get(e["channel_id"]) if e["channel_id"] else None,
                        e["detail"],
                    )
                    for e in events.get(mid, [])
                ),
                report_stat=final["stat"] if final else None,
                report_at=final["reported_at"] if final else None,
                report_handed_out=bool(final and final["pulled"]),
                charge=charge,
                refund=refund,
            )
        )
    return found


async def message_history(
    platform: Platform, mid: str, account_id: int | None = None
) -> MessageHistory | None:
    """The message ``mid`` (of ``account_id`` only, when given), or None."""
    async with platform.reader.connect() as conn:
        rows = await history_store.find_messages(
            conn, mid=mid.strip().upper(), account_id=account_id, limit=1
        )
    found = await _histories(platform, rows)
    return found[0] if found else None


async def search_messages(
    platform: Platform,
    *,
    account_id: int | None = None,
    mobile: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[MessageHistory]:
    """Messages by account and/or mobile within a time range, newest first, with their
    histories. One of ``account_id`` and ``mobile`` is required (they use the indexes)."""
    if account_id is None and not mobile:
        raise ValueError("give an account or a mobile number to search by")
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be 1 to {MAX_PAGE}")
    async with platform.reader.connect() as conn:
        rows = await history_store.find_messages(
            conn,
            account_id=account_id,
            mobile=mobile or None,
            since=since,
            until=until,
            limit=limit,
            offset=max(0, offset),
        )
    return await _histories(platform, rows)


@dataclass(frozen=True, slots=True)
class LedgerPage:
    entries: tuple[LedgerEntry, ...]  # newest first
    next_before: int | None  # pass as ``before`` for the next (older) page


async def ledger_page(
    platform: Platform,
    account_id: int,
    *,
    before: int | None = None,
    limit: int = 100,
    since: datetime | None = None,
    until: datetime | None = None,
    reason: str | None = None,
) -> LedgerPage:
    """Charges, refunds and recharges with the balance after each, newest first."""
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be 1 to {MAX_PAGE}")
    async with platform.reader.connect() as conn:
        rows = await history_store.ledger_page(
            conn,
            account_id,
            before_id=before,
            limit=limit + 1,
            since=since,
            until=until,
            reason=reason,
        )
    entries = tuple(_entry(r) for r in rows[:limit])
    more = len(rows) > limit
    return LedgerPage(entries, entries[-1].id if more and entries else None)
