"""Push callbacks: each account's URLs and signing secrets, and the batches being pushed.

A batch's items stay claimed in the inbox by ``push:<webhook_id>`` (see
:mod:`duanxin.store.inbox`) for as long as the batch may be retried, so no pull and no
other consumer takes them; a delivered batch acknowledges them, one given up on releases
them (waiting for a pull again). The batch row keeps its body, so every retry sends the
same bytes under the same ``webhook-id``, after a restart too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store import inbox, prepared
from duanxin.store.inbox import Kind
from duanxin.store.tables import accounts, callbacks, push_batches, push_outcomes

__all__ = [
    "PUSH_OUTCOMES_KEPT",
    "Batch",
    "CallbackRow",
    "PushOutcome",
    "active_callbacks",
    "any_due",
    "consumer_of",
    "delete_batch",
    "disable",
    "due_batches",
    "find_callback",
    "make_due",
    "new_batch",
    "oldest_waiting",
    "pending_batches",
    "postpone",
    "push_outcomes_of",
    "record_outcome",
    "save_callback",
]

CONSUMER_PREFIX = "push:"
PUSH_OUTCOMES_KEPT = 50  # per account and kind


def consumer_of(webhook_id: str) -> str:
    """The inbox consumer name a batch holds its items under."""
    return CONSUMER_PREFIX + webhook_id


@dataclass(frozen=True, slots=True)
class CallbackRow:
    account_id: int
    account: str
    reports_url: str
    replies_url: str
    reports_disabled: str
    replies_disabled: str
    secret: str
    previous_secret: str | None
    previous_until: datetime | None

    def url(self, kind: Kind) -> str:
        """The URL items of ``kind`` go to; "" when none is set or it was disabled."""
        if kind is Kind.REPORTS:
            return "" if self.reports_disabled else self.reports_url
        return "" if self.replies_disabled else self.replies_url

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign now: the current one, and the previous during overlap."""
        found = [self.secret]
        if self.previous_secret and self.previous_until and now < self.previous_until:
            found.append(self.previous_secret)
        return found


def _callback_query() -> Any:
    return select(callbacks, accounts.c.account).join(
        accounts, accounts.c.id == callbacks.c.account_id
    )


def _row(row: Any) -> CallbackRow:
    return CallbackRow(
        row["account_id"],
        row["account"],
        row["reports_url"],
        row["replies_url"],
        row["reports_disabled"],
        row["replies_disabled"],
        row["secret"],
        row["previous_secret"],
        row["previous_until"],
    )


async def find_callback(conn: AsyncConnection, account_id: int) -> CallbackRow | None:
    query = _callback_query().where(callbacks.c.account_id == account_id)
    row = (await conn.execute(query)).mappings().first()
    return None if row is None else _row(row)


async def active_callbacks(conn: AsyncConnection) -> list[CallbackRow]:
    """Every account with a URL in use."""
    if not (await prepared.fetch(conn, _ANY_ACTIVE))[0][0]:  # the usual case: one cheap look
        return []
    query = _callback_query().where(
        or_(
            (callbacks.c.reports_url != "") & (callbacks.c.reports_disabled == ""),
            (callbacks.c.replies_url != "") & (callbacks.c.replies_disabled == ""),
        )
    )
    return [_row(r) for r in (await conn.execute(query)).mappings()]


async def save_callback(conn: AsyncConnection, account_id: int, values: dict[str, Any]) -> None:
    """Insert or update the account's row with ``values`` (a new row needs ``secret``)."""
    found = await conn.execute(
        update(callbacks).where(callbacks.c.account_id == account_id).values(**values)
    )
    if not found.rowcount:
        base = {
            "reports_url": "",
            "replies_url": "",
            "reports_disabled": "",
            "replies_disabled": "",
        }
        await conn.execute(insert(callbacks).values(account_id=account_id, **{**base, **values}))


async def disable(
    conn: AsyncConnection, account_id: int, kind: Kind, reason: str, now: datetime
) -> None:
    column = "reports_disabled" if kind is Kind.REPORTS else "replies_disabled"
    await conn.execute(
        update(callbacks)
        .where(callbacks.c.account_id == account_id)
        .values({column: reason[:64], "updated_at": now})
    )


@dataclass(frozen=True, slots=True)
class Batch:
    id: int
    webhook_id: str
    account_id: int
    kind: Kind
    item_ids: tuple[int, ...]
    body: bytes
    attempts: int
    next_attempt_at: datetime
    give_up_at: datetime


def _batch(row: Any) -> Batch:
    return Batch(
        row["id"],
        row["webhook_id"],
        row["account_id"],
        Kind(row["kind"]),
        tuple(row["item_ids"]),
        bytes(row["body"]),
        row["attempts"],
        row["next_attempt_at"],
        row["give_up_at"],
    )


async def new_batch(
    conn: AsyncConnection,
    *,
    webhook_id: str,
    account_id: int,
    kind: Kind,
    item_ids: Sequence[int],
    body: bytes,
    lease_until: datetime,
    give_up_at: datetime,
    now: datetime,
) -> Batch:
    """Store a batch about to be sent (due again at ``lease_until`` if this try dies)."""
    values = {
        "webhook_id": webhook_id,
        "account_id": account_id,
        "kind": kind.value,
        "item_ids": list(item_ids),
        "body": body,
        "attempts": 0,
        "next_attempt_at": lease_until,
        "give_up_at": give_up_at,
        "last_error": "",
        "created_at": now,
    }
    result = await conn.execute(insert(push_batches).values(**values).returning(push_batches.c.id))
    return _batch({"id": result.scalar_one(), **values})


# Every push round (ten a second by default) looks with these first (store.prepared).
_ANY_DUE = prepared.Sql("SELECT EXISTS (SELECT 1 FROM push_batches WHERE next_attempt_at <= $1)")
_ANY_ACTIVE = prepared.Sql(
    """SELECT EXISTS (SELECT 1 FROM callbacks
    WHERE (reports_url != '' AND reports_disabled = '')
        OR (replies_url != '' AND replies_disabled = ''))"""
)


async def any_due(conn: AsyncConnection, now: datetime) -> bool:
    """Whether some batch's next try is due (a cheap look before leasing them)."""
    return bool((await prepared.fetch(conn, _ANY_DUE, now))[0][0])


async def due_batches(
    conn: AsyncConnection, now: datetime, lease_until: datetime, limit: int
) -> list[Batch]:
    """Batches whose next try is due, leased until ``lease_until`` (so one process sends
    each try); a lease that runs out (the process died mid-try) makes the batch due again."""
    query = (
        select(push_batches)
        .where(push_batches.c.next_attempt_at <= now)
        .order_by(push_batches.c.next_attempt_at, push_batches.c.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = [_batch(r) for r in (await conn.execute(query)).mappings()]
    if rows:
        await conn.execute(
            update(push_batches)
            .where(push_batches.c.id.in_([b.id for b in rows]))
            .values(next_attempt_at=lease_until)
        )
    return rows


async def postpone(
    conn: AsyncConnection, batch_id: int, attempts: int, next_attempt_at: datetime, error: str
) -> None:
    await conn.execute(
        update(push_batches)
        .where(push_batches.c.id == batch_id)
        .values(attempts=attempts, next_attempt_at=next_attempt_at, last_error=error[:128])
    )


async def delete_batch(conn: AsyncConnection, batch_id: int) -> None:
    await conn.execute(delete(push_batches).where(push_batches.c.id == batch_id))


async def pending_batches(conn: AsyncConnection) -> int:
    """How many batches wait for a retry (the retry queue's length)."""
    query = select(func.count()).select_from(push_batches).where(push_batches.c.attempts > 0)
    return int((await conn.execute(query)).scalar_one())


async def oldest_waiting(
    conn: AsyncConnection, kind: Kind, account_ids: Sequence[int], now: datetime
) -> datetime | None:
    """When the oldest item not yet handed out (waiting or in a batch) arrived."""
    table = inbox.table_of(kind)
    column = table.c.reported_at if kind is Kind.REPORTS else table.c.received_at
    found = []
    for account_id in account_ids:  # the oldest is the lowest id: one index probe each
        query = (
            select(column)
            .where(table.c.account_id == account_id, table.c.pulled.is_(False))
            .order_by(table.c.id)
            .limit(1)
        )
        oldest = (await conn.execute(query)).scalar_one_or_none()
        if oldest is not None:
            found.append(oldest)
    return min(found) if found else None


async def make_due(conn: AsyncConnection, batch_id: int, now: datetime) -> None:
    """Make a batch due at once (its try was cut short, or its account was busy)."""
    await conn.execute(
        update(push_batches).where(push_batches.c.id == batch_id).values(next_attempt_at=now)
    )


@dataclass(frozen=True, slots=True)
class PushOutcome:
    """One try to POST to a callback URL, as it came out."""

    at: datetime
    kind: Kind
    url: str
    outcome: str  # delivered | failed | refused | gone | given_up
    http_status: int | None  # None: no HTTP answer (refused, timed out, connection failed)
    error: str  # "" when delivered
    items: int  # reports or replies carried (0: a test)
    duration_ms: int
    attempt: int  # 1 for a batch's first try; 0 for a test callback


async def record_outcome(conn: AsyncConnection, account_id: int, outcome: PushOutcome) -> None:
    """Keep ``outcome``; of the account's outcomes of that kind only the newest
    :data:`PUSH_OUTCOMES_KEPT` stay."""
    kind = outcome.kind.value
    await conn.execute(
        insert(push_outcomes).values(
            account_id=account_id,
            kind=kind,
            url=outcome.url[:512],
            at=outcome.at,
            outcome=outcome.outcome,
            http_status=outcome.http_status,
            error=outcome.error[:128],
            items=outcome.items,
            duration_ms=outcome.duration_ms,
            attempt=outcome.attempt,
        )
    )
    mine = (push_outcomes.c.account_id == account_id) & (push_outcomes.c.kind == kind)
    oldest_kept = (
        select(push_outcomes.c.id)
        .where(mine)
        .order_by(push_outcomes.c.id.desc())
        .offset(PUSH_OUTCOMES_KEPT - 1)
        .limit(1)
        .scalar_subquery()
    )
    await conn.execute(delete(push_outcomes).where(mine, push_outcomes.c.id < oldest_kept))


async def push_outcomes_of(
    conn: AsyncConnection, account_id: int, limit: int = PUSH_OUTCOMES_KEPT
) -> list[PushOutcome]:
    """The account's latest push outcomes (both kinds), newest first."""
    query = (
        select(push_outcomes)
        .where(push_outcomes.c.account_id == account_id)
        .order_by(push_outcomes.c.id.desc())
        .limit(limit)
    )
    return [
        PushOutcome(
            row["at"],
            Kind(row["kind"]),
            row["url"],
            row["outcome"],
            row["http_status"],
            row["error"],
            row["items"],
            row["duration_ms"],
            row["attempt"],
        )
        for row in (await conn.execute(query)).mappings()
    ]
