"""The web console's own rows: operator users, signed-in sessions, failed sign-ins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store.tables import console_sessions, operator_users, signin_failures

__all__ = [
    "add_operator_user",
    "count_failures",
    "delete_session",
    "delete_sessions_of",
    "expire_sessions",
    "find_operator_user",
    "find_session",
    "forget_failures",
    "insert_session",
    "list_operator_users",
    "record_failure",
    "set_operator_enabled",
]


async def add_operator_user(
    conn: AsyncConnection, name: str, password_hash: str, now: datetime
) -> int:
    result = await conn.execute(
        operator_users.insert()
        .values(name=name, password_hash=password_hash, enabled=True, created_at=now)
        .returning(operator_users.c.id)
    )
    return int(result.scalar_one())


async def find_operator_user(conn: AsyncConnection, name: str) -> RowMapping | None:
    rows = await conn.execute(select(operator_users).where(operator_users.c.name == name))
    return rows.mappings().first()


async def list_operator_users(conn: AsyncConnection) -> list[RowMapping]:
    rows = await conn.execute(
        select(
            operator_users.c.name, operator_users.c.enabled, operator_users.c.created_at
        ).order_by(operator_users.c.id)
    )
    return list(rows.mappings())


async def set_operator_enabled(conn: AsyncConnection, name: str, enabled: bool) -> bool:
    """Enable or disable an operator user; whether there is one of that name."""
    result = await conn.execute(
        update(operator_users).where(operator_users.c.name == name).values(enabled=enabled)
    )
    return bool(result.rowcount)


async def delete_sessions_of(conn: AsyncConnection, realm: str, subject: str) -> int:
    """End every session of one operator (or one customer account); how many there were."""
    result = await conn.execute(
        delete(console_sessions).where(
            console_sessions.c.realm == realm, console_sessions.c.subject == subject
        )
    )
    return result.rowcount or 0


async def insert_session(
    conn: AsyncConnection,
    token_hash: str,
    realm: str,
    subject: str,
    csrf: str,
    now: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        console_sessions.insert().values(
            token_hash=token_hash,
            realm=realm,
            subject=subject,
            csrf=csrf,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def find_session(
    conn: AsyncConnection, token_hash: str, realm: str, now: datetime
) -> RowMapping | None:
    """The unexpired session of ``realm`` whose token hashes to ``token_hash``."""
    rows = await conn.execute(
        select(console_sessions).where(
            console_sessions.c.token_hash == token_hash,
            console_sessions.c.realm == realm,
            console_sessions.c.expires_at > now,
        )
    )
    return rows.mappings().first()


async def delete_session(conn: AsyncConnection, token_hash: str) -> RowMapping | None:
    """Remove a session; the row it was, if there was one."""
    row = (
        (
            await conn.execute(
                select(console_sessions).where(console_sessions.c.token_hash == token_hash)
            )
        )
        .mappings()
        .first()
    )
    if row is not None:
        await conn.execute(
            delete(console_sessions).where(console_sessions.c.token_hash == token_hash)
        )
    return row


async def expire_sessions(conn: AsyncConnection, now: datetime) -> int:
    result = await conn.execute(
        delete(console_sessions).where(console_sessions.c.expires_at <= now)
    )
    return result.rowcount or 0


async def record_failure(
    conn: AsyncConnection, realm: str, name: str, address: str, now: datetime
) -> None:
    await conn.execute(
        signin_failures.insert().values(realm=realm, name=name[:64], address=address[:64], at=now)
    )


async def count_failures(
    conn: AsyncConnection, realm: str, name: str, address: str, since: datetime
) -> tuple[int, int]:
    """Failures since ``since``: of ``name`` in ``realm``, and from ``address`` (any realm)."""
    by_name = await conn.execute(
        select(func.count()).where(
            signin_failures.c.realm == realm,
            signin_failures.c.name == name[:64],
            signin_failures.c.at >= since,
        )
    )
    by_address = await conn.execute(
        select(func.count()).where(
            signin_failures.c.address == address[:64], signin_failures.c.at >= since
        )
    )
    return int(by_name.scalar_one()), int(by_address.scalar_one())


async def forget_failures(conn: AsyncConnection, realm: str, name: str, before: datetime) -> None:
    """After a good sign-in: the name's failures no longer count; and old rows go."""
    await conn.execute(
        delete(signin_failures).where(
            signin_failures.c.realm == realm, signin_failures.c.name == name[:64]
        )
    )
    await conn.execute(delete(signin_failures).where(signin_failures.c.at < before))
