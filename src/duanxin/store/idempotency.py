"""Answers kept for idempotent sends: one per account and key, for a limited time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store.tables import idempotency

__all__ = ["StoredAnswer", "expire", "find", "keep"]


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    fingerprint: str  # of the request's parameters
    record: bytes  # the answer as it was given


async def find(
    conn: AsyncConnection, account_id: int, key: str, since: datetime
) -> StoredAnswer | None:
    """The answer kept for ``key`` since ``since``, if any."""
    row = (
        await conn.execute(
            select(idempotency.c.fingerprint, idempotency.c.response).where(
                idempotency.c.account_id == account_id,
                idempotency.c.key == key,
                idempotency.c.created_at >= since,
            )
        )
    ).first()
    return None if row is None else StoredAnswer(row[0], bytes(row[1]))


async def keep(
    conn: AsyncConnection,
    account_id: int,
    key: str,
    answer: StoredAnswer,
    now: datetime,
    *,
    since: datetime,
) -> None:
    """Keep ``answer`` for ``key``, replacing one older than ``since``."""
    await conn.execute(
        delete(idempotency).where(
            idempotency.c.account_id == account_id,
            idempotency.c.key == key,
            idempotency.c.created_at < since,
        )
    )
    await conn.execute(
        idempotency.insert().values(
            account_id=account_id,
            key=key,
            fingerprint=answer.fingerprint,
            response=answer.record,
            created_at=now,
        )
    )


async def expire(conn: AsyncConnection, before: datetime) -> int:
    """Forget answers kept since before ``before``."""
    result = await conn.execute(delete(idempotency).where(idempotency.c.created_at < before))
    return result.rowcount or 0
