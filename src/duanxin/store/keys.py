"""API keys (several per customer; revoked, expiring) and operator tokens: listing and
revoking. Issuing is in store/accounts.py (``add_api_key``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store.tables import api_keys, customers, operator_tokens

__all__ = [
    "KeyRow",
    "TokenRow",
    "list_keys",
    "list_tokens",
    "revoke_key",
    "revoke_token",
    "store_token",
    "tokens_with_prefix",
]


@dataclass(frozen=True, slots=True)
class KeyRow:
    secret_id: str
    customer: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class TokenRow:
    token_hash: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


_KEYS = select(
    api_keys.c.secret_id,
    customers.c.name,
    api_keys.c.created_at,
    api_keys.c.expires_at,
    api_keys.c.revoked_at,
).join(customers, customers.c.id == api_keys.c.customer_id)


async def list_keys(
    conn: AsyncConnection, customer: str | None = None, secret_id: str | None = None
) -> list[KeyRow]:
    """Keys (never their secrets), oldest first; of one customer or one SecretId if given."""
    query = _KEYS.order_by(api_keys.c.created_at, api_keys.c.secret_id)
    if customer is not None:
        query = query.where(customers.c.name == customer)
    if secret_id is not None:
        query = query.where(api_keys.c.secret_id == secret_id)
    return [KeyRow(*row) for row in await conn.execute(query)]


async def revoke_key(conn: AsyncConnection, secret_id: str, now: datetime) -> bool:
    """Revoke a key not revoked yet; False when there is no such key (or it was)."""
    result = await conn.execute(
        update(api_keys)
        .where(api_keys.c.secret_id == secret_id, api_keys.c.revoked_at.is_(None))
        .values(enabled=False, revoked_at=now)
    )
    return bool(result.rowcount)


async def store_token(conn: AsyncConnection, token_hash: str, name: str, now: datetime) -> None:
    await conn.execute(
        operator_tokens.insert().values(token_hash=token_hash, name=name, created_at=now)
    )


async def list_tokens(conn: AsyncConnection) -> list[TokenRow]:
    rows = await conn.execute(
        select(
            operator_tokens.c.token_hash,
            operator_tokens.c.name,
            operator_tokens.c.created_at,
            operator_tokens.c.revoked_at,
        ).order_by(operator_tokens.c.created_at, operator_tokens.c.token_hash)
    )
    return [TokenRow(*row) for row in rows]


async def tokens_with_prefix(conn: AsyncConnection, prefix: str) -> list[TokenRow]:
    return [t for t in await list_tokens(conn) if t.token_hash.startswith(prefix)]


async def revoke_token(conn: AsyncConnection, token_hash: str, now: datetime) -> bool:
    result = await conn.execute(
        update(operator_tokens)
        .where(operator_tokens.c.token_hash == token_hash, operator_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return bool(result.rowcount)
