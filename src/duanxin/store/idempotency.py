"""Answers kept for idempotent sends: one per account and key, for a limited time.

:func:`find` and :func:`keep` run with every send that has a key, through the driver
(:mod:`duanxin.store.prepared`); :func:`expire` is the sweeper's, through SQLAlchemy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store import prepared
from duanxin.store.tables import idempotency

__all__ = ["KeyTaken", "StoredAnswer", "expire", "find", "keep"]


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    fingerprint: str  # of the request's parameters
    record: bytes  # the answer as it was given


class KeyTaken(Exception):
    """:func:`keep` found an answer for the key already (another request's, committed
    since this one looked): the transaction must not commit this request's writes."""


_FIND = prepared.Sql(
    """SELECT fingerprint, response FROM idempotency
    WHERE account_id = $1 AND "key" = $2 AND created_at >= $3"""
)
_FORGET_OLD = prepared.Sql(
    """DELETE FROM idempotency WHERE account_id = $1 AND "key" = $2 AND created_at < $3"""
)
_KEEP = prepared.Sql(
    """INSERT INTO idempotency (account_id, "key", fingerprint, response, created_at)
    VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, "key") DO NOTHING"""
)


async def find(
    conn: AsyncConnection | prepared.KeptReader, account_id: int, key: str, since: datetime
) -> StoredAnswer | None:
    """The answer kept for ``key`` since ``since``, if any."""
    rows = await prepared.fetch(conn, _FIND, account_id, key, since)
    return None if not rows else StoredAnswer(rows[0][0], bytes(rows[0][1]))


async def keep(
    conn: AsyncConnection,
    account_id: int,
    key: str,
    answer: StoredAnswer,
    now: datetime,
    *,
    since: datetime,
) -> None:
    """Keep ``answer`` for ``key``, replacing one older than ``since``; :class:`KeyTaken`
    when a newer one is kept already."""
    await prepared.execute(conn, _FORGET_OLD, account_id, key, since)
    kept = await prepared.execute(
        conn, _KEEP, account_id, key, answer.fingerprint, answer.record, now
    )
    if not kept:
        raise KeyTaken(key)


async def expire(conn: AsyncConnection, before: datetime) -> int:
    """Forget answers kept since before ``before``."""
    result = await conn.execute(delete(idempotency).where(idempotency.c.created_at < before))
    return result.rowcount or 0
