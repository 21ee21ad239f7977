"""Queries of the policy tables: signatures, templates, blacklist, opt-outs, words, limits.

Plain reads and writes, no rules: what may be registered, approved or sent is decided in
:mod:`duanxin.domain.policy` and the services (:mod:`duanxin.service.policy`,
:mod:`~duanxin.service.review`, :mod:`~duanxin.service.lists`). Numbers are stored in
their canonical 11-digit form (the service normalises them first).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.policy import Limits, WordEntry
from duanxin.store import prepared
from duanxin.store.tables import (
    accounts,
    audit_log,
    blacklist,
    frequency_limits,
    optouts,
    sensitive_words,
    signatures,
    templates,
)

__all__ = [
    "IN_CHUNK",
    "ReviewState",
    "add_blacklist",
    "add_optouts",
    "add_signature",
    "add_template",
    "approved_signatures",
    "approved_templates",
    "blacklisted",
    "decide",
    "find_signature",
    "frequency_overrides",
    "get_review",
    "list_audit",
    "list_blacklist",
    "list_optouts",
    "list_reviews",
    "list_words",
    "opted_out",
    "refused",
    "remove_blacklist",
    "remove_optouts",
    "remove_words",
    "set_frequency",
    "upsert_words",
    "word_categories",
]

IN_CHUNK = 500  # numbers per IN (...) list: one /smssend batch in one query


class ReviewState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


def _insert(conn: AsyncConnection, table: Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), IN_CHUNK):
        yield values[start : start + IN_CHUNK]


# ------------------------------------------------------------ signatures, templates


async def add_signature(
    conn: AsyncConnection,
    account_id: int,
    text: str,
    now: datetime,
    state: ReviewState = ReviewState.PENDING,
) -> int:
    """A new signature row (the caller checked there is none with this text)."""
    result = await conn.execute(
        signatures.insert()
        .values(account_id=account_id, text=text, state=state.value, reason="", created_at=now)
        .returning(signatures.c.id)
    )
    return int(result.scalar_one())


async def find_signature(conn: AsyncConnection, account_id: int, text: str) -> RowMapping | None:
    row = (
        await conn.execute(
            select(signatures).where(
                signatures.c.account_id == account_id, signatures.c.text == text
            )
        )
    ).mappings()
    return row.first()


async def add_template(
    conn: AsyncConnection, account_id: int, kind: str, text: str, now: datetime
) -> int:
    result = await conn.execute(
        templates.insert()
        .values(
            account_id=account_id,
            kind=kind,
            text=text,
            state=ReviewState.PENDING.value,
            reason="",
            created_at=now,
        )
        .returning(templates.c.id)
    )
    return int(result.scalar_one())


def _reviews(table: Table) -> Any:
    return select(table, accounts.c.account).join(accounts, accounts.c.id == table.c.account_id)


async def get_review(conn: AsyncConnection, table: Table, row_id: int) -> RowMapping | None:
    """One row of ``signatures`` or ``templates``, with its ``account`` name."""
    return (await conn.execute(_reviews(table).where(table.c.id == row_id))).mappings().first()


async def list_reviews(
    conn: AsyncConnection,
    table: Table,
    *,
    account_id: int | None = None,
    state: ReviewState | None = None,
    limit: int = 1000,
) -> list[RowMapping]:
    """Rows of ``signatures`` or ``templates`` (with ``account``) in id order, optionally
    of one account or state."""
    query = _reviews(table).order_by(table.c.id).limit(limit)
    if account_id is not None:
        query = query.where(table.c.account_id == account_id)
    if state is not None:
        query = query.where(table.c.state == state.value)
    return list((await conn.execute(query)).mappings())


async def decide(
    conn: AsyncConnection,
    table: Table,
    row_id: int,
    state: ReviewState,
    reason: str,
    actor: str,
    now: datetime,
) -> bool:
    """Record a review decision; False when there is no such row."""
    result = await conn.execute(
        update(table)
        .where(table.c.id == row_id)
        .values(state=state.value, reason=reason, decided_at=now, decided_by=actor[:64])
    )
    return bool(result.rowcount)


async def approved_signatures(conn: AsyncConnection, account_id: int) -> list[str]:
    rows = await conn.execute(
        select(signatures.c.text)
        .where(
            signatures.c.account_id == account_id,
            signatures.c.state == ReviewState.APPROVED.value,
        )
        .order_by(signatures.c.id)
    )
    return list(rows.scalars())


async def approved_templates(conn: AsyncConnection, account_id: int) -> list[tuple[int, str, str]]:
    """``(id, kind, text)`` of the account's approved templates, in id order."""
    rows = await conn.execute(
        select(templates.c.id, templates.c.kind, templates.c.text)
        .where(
            templates.c.account_id == account_id,
            templates.c.state == ReviewState.APPROVED.value,
        )
        .order_by(templates.c.id)
    )
    return [(int(i), str(k), str(t)) for i, k, t in rows]


# --------------------------------------------------------------- blacklist, opt-outs


async def add_blacklist(
    conn: AsyncConnection, mobiles: Collection[str], reason: str, now: datetime
) -> int:
    """Put numbers on the global blacklist; returns how many were not on it yet."""
    added = 0
    for chunk in _chunks(sorted(set(mobiles))):
        known = await blacklisted(conn, chunk)
        fresh = [
            {"mobile": m, "reason": reason[:128], "created_at": now}
            for m in chunk
            if m not in known
        ]
        if fresh:
            stmt = _insert(conn, blacklist).values(fresh).on_conflict_do_nothing()
            await conn.execute(stmt)
        added += len(fresh)
    return added


async def remove_blacklist(conn: AsyncConnection, mobiles: Collection[str]) -> int:
    removed = 0
    for chunk in _chunks(sorted(set(mobiles))):
        result = await conn.execute(delete(blacklist).where(blacklist.c.mobile.in_(chunk)))
        removed += result.rowcount or 0
    return removed


# Built once: this runs for every send, and building a statement costs more than running it.
_REFUSED = prepared.Sql(  # every send runs it (store.prepared)
    """SELECT mobile FROM blacklist WHERE mobile = ANY($2)
    UNION ALL SELECT mobile FROM optouts WHERE account_id = $1 AND mobile = ANY($2)"""
)


async def refused(
    conn: AsyncConnection | prepared.KeptReader, account_id: int, mobiles: Sequence[str]
) -> set[str]:
    """Those of ``mobiles`` on the global blacklist or the account's opt-out list (one query
    per chunk)."""
    found: set[str] = set()
    for chunk in _chunks(mobiles):
        rows = await prepared.fetch(conn, _REFUSED, account_id, list(chunk))
        found.update(row[0] for row in rows)
    return found


async def blacklisted(conn: AsyncConnection, mobiles: Sequence[str]) -> set[str]:
    """Those of ``mobiles`` on the global blacklist."""
    found: set[str] = set()
    for chunk in _chunks(mobiles):
        rows = await conn.execute(select(blacklist.c.mobile).where(blacklist.c.mobile.in_(chunk)))
        found.update(rows.scalars())
    return found


async def list_blacklist(
    conn: AsyncConnection, *, limit: int = 1000, offset: int = 0
) -> tuple[int, list[RowMapping]]:
    """The number of entries, and a page of them in number order."""
    total = (await conn.execute(select(func.count()).select_from(blacklist))).scalar_one()
    rows = await conn.execute(
        select(blacklist).order_by(blacklist.c.mobile).limit(limit).offset(offset)
    )
    return int(total), list(rows.mappings())


async def add_optouts(
    conn: AsyncConnection, account_id: int, mobiles: Collection[str], now: datetime
) -> None:
    values = [{"account_id": account_id, "mobile": m, "created_at": now} for m in set(mobiles)]
    for start in range(0, len(values), IN_CHUNK):
        chunk = values[start : start + IN_CHUNK]
        await conn.execute(_insert(conn, optouts).values(chunk).on_conflict_do_nothing())


async def remove_optouts(conn: AsyncConnection, account_id: int, mobiles: Collection[str]) -> int:
    removed = 0
    for chunk in _chunks(sorted(set(mobiles))):
        result = await conn.execute(
            delete(optouts).where(optouts.c.account_id == account_id, optouts.c.mobile.in_(chunk))
        )
        removed += result.rowcount or 0
    return removed


async def opted_out(conn: AsyncConnection, account_id: int, mobiles: Sequence[str]) -> set[str]:
    """Those of ``mobiles`` on the account's opt-out list."""
    found: set[str] = set()
    for chunk in _chunks(mobiles):
        rows = await conn.execute(
            select(optouts.c.mobile).where(
                optouts.c.account_id == account_id, optouts.c.mobile.in_(chunk)
            )
        )
        found.update(rows.scalars())
    return found


async def list_optouts(
    conn: AsyncConnection, account_id: int, *, limit: int = 1000, starting: str = ""
) -> list[RowMapping]:
    """The account's opted-out numbers in order (those starting with ``starting``)."""
    query = select(optouts.c.mobile, optouts.c.created_at).where(optouts.c.account_id == account_id)
    if starting:
        query = query.where(optouts.c.mobile.startswith(starting, autoescape=True))
    rows = await conn.execute(query.order_by(optouts.c.mobile).limit(limit))
    return list(rows.mappings())


# ----------------------------------------------------------------- sensitive words


async def upsert_words(conn: AsyncConnection, entries: Sequence[WordEntry], now: datetime) -> int:
    """Add words (a listed word takes the new category); returns how many were new."""
    latest = {e.word: e.category for e in entries}  # the last line of a file wins
    words = list(latest)
    known: set[str] = set()
    for chunk in _chunks(words):
        rows = await conn.execute(
            select(sensitive_words.c.word).where(sensitive_words.c.word.in_(chunk))
        )
        known.update(rows.scalars())
    values = [{"word": w, "category": c, "created_at": now} for w, c in latest.items()]
    for start in range(0, len(values), IN_CHUNK):
        stmt = _insert(conn, sensitive_words).values(values[start : start + IN_CHUNK])
        stmt = stmt.on_conflict_do_update(
            index_elements=[sensitive_words.c.word],
            set_={"category": stmt.excluded.category, "created_at": stmt.excluded.created_at},
        )
        await conn.execute(stmt)
    return len(set(words) - known)


async def remove_words(conn: AsyncConnection, words: Collection[str]) -> int:
    removed = 0
    for chunk in _chunks(sorted(set(words))):
        result = await conn.execute(
            delete(sensitive_words).where(sensitive_words.c.word.in_(chunk))
        )
        removed += result.rowcount or 0
    return removed


async def list_words(conn: AsyncConnection) -> list[WordEntry]:
    """Every listed word, in insertion-independent (word) order."""
    rows = await conn.execute(
        select(sensitive_words.c.word, sensitive_words.c.category).order_by(sensitive_words.c.word)
    )
    return [WordEntry(str(w), str(c)) for w, c in rows]


async def word_categories(conn: AsyncConnection) -> dict[str, int]:
    """How many words each category holds."""
    rows = await conn.execute(
        select(sensitive_words.c.category, func.count())
        .group_by(sensitive_words.c.category)
        .order_by(sensitive_words.c.category)
    )
    return {str(category): int(count) for category, count in rows}


# ------------------------------------------------------------------ frequency limits


async def frequency_overrides(conn: AsyncConnection, account_id: int) -> dict[str, Limits]:
    """The operator's limits for an account, by scope (a kind or ``platform``)."""
    rows = await conn.execute(
        select(frequency_limits.c.kind, frequency_limits.c.limits).where(
            frequency_limits.c.account_id == account_id
        )
    )
    return {
        str(kind): tuple((int(count), float(window)) for count, window in limits)
        for kind, limits in rows
    }


async def set_frequency(
    conn: AsyncConnection, account_id: int, scope: str, limits: Limits | None
) -> None:
    """Store an override for one scope; None goes back to the default."""
    await conn.execute(
        delete(frequency_limits).where(
            frequency_limits.c.account_id == account_id, frequency_limits.c.kind == scope
        )
    )
    if limits is not None:
        await conn.execute(
            frequency_limits.insert().values(
                account_id=account_id, kind=scope, limits=[[c, w] for c, w in limits]
            )
        )


# ------------------------------------------------------------------------ audit log


async def list_audit(
    conn: AsyncConnection,
    *,
    limit: int = 100,
    actor: str | None = None,
    action: str | None = None,
    subject: str | None = None,
) -> list[RowMapping]:
    """The latest audit rows first; ``action`` matches as a prefix (``signature.``)."""
    query = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
    if actor is not None:
        query = query.where(audit_log.c.actor == actor)
    if action is not None:
        query = query.where(audit_log.c.action.startswith(action, autoescape=True))
    if subject is not None:
        query = query.where(audit_log.c.subject == subject)
    return list((await conn.execute(query)).mappings())
