"""API keys and operator tokens: issue (the secret shown once), list, revoke.

A customer may hold several SecretId/SecretKey pairs, each optionally expiring. A revoked
key is refused at once by this process (its cache entry is dropped) and by every other
within the API-key cache's lifetime. Typed results for every front door (CLI, REST,
console).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from duanxin.service import admin
from duanxin.service.errors import Conflict, Invalid, NotFound
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store
from duanxin.store import keys as key_store

__all__ = [
    "IssuedKey",
    "KeyInfo",
    "KeyState",
    "TokenInfo",
    "issue_key",
    "list_keys",
    "list_tokens",
    "revoke_key",
    "revoke_token",
]

TOKEN_ID_LENGTH = 12  # shown of a token's hash: enough to name it, useless to log in


class KeyState(enum.StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: ``secret_key`` is shown this once and never again."""

    secret_id: str
    secret_key: str
    customer: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key as listed (never its secret)."""

    secret_id: str
    customer: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    state: KeyState


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An operator token as listed: ``id`` is the start of its hash, not the token."""

    id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None
    state: KeyState


def _key_info(row: key_store.KeyRow, now: datetime) -> KeyInfo:
    if row.revoked_at is not None:
        state = KeyState.REVOKED
    elif row.expires_at is not None and row.expires_at <= now:
        state = KeyState.EXPIRED
    else:
        state = KeyState.ACTIVE
    return KeyInfo(
        row.secret_id, row.customer, row.created_at, row.expires_at, row.revoked_at, state
    )


async def issue_key(
    platform: Platform,
    customer: str,
    actor: str = "operator",
    expires_at: datetime | None = None,
) -> IssuedKey:
    """A new key for an existing customer (``NotFound`` otherwise)."""
    if expires_at is not None and expires_at <= platform.clock():
        raise Invalid("expires_at must be in the future", "expires_at")
    async with platform.engine.connect() as conn:
        customer_id = await account_store.customer_id_for(conn, customer)
    if customer_id is None:
        raise NotFound(f"no customer {customer!r}")
    key = await admin.issue_api_key(platform, customer_id, actor, expires_at)
    return IssuedKey(key.secret_id, key.secret_key, customer, expires_at)


async def list_keys(platform: Platform, customer: str | None = None) -> list[KeyInfo]:
    """Every key (of ``customer`` if given), oldest first."""
    async with platform.engine.connect() as conn:
        if customer is not None and await account_store.customer_id_for(conn, customer) is None:
            raise NotFound(f"no customer {customer!r}")
        rows = await key_store.list_keys(conn, customer)
    now = platform.clock()
    return [_key_info(row, now) for row in rows]


async def revoke_key(
    platform: Platform, secret_id: str, actor: str = "operator", customer: str | None = None
) -> KeyInfo:
    """Revoke a key: from now on its signatures get 401. With ``customer``, only a key of
    that customer (another's is ``NotFound``, as an unknown one: a customer revoking)."""
    now = platform.clock()
    async with platform.engine.begin() as conn:
        rows = await key_store.list_keys(conn, secret_id=secret_id)
        if not rows or (customer is not None and rows[0].customer != customer):
            raise NotFound(f"no API key {secret_id!r}")
        if not await key_store.revoke_key(conn, secret_id, now):
            raise Conflict(f"API key {secret_id!r} is already revoked")
        await account_store.write_audit(
            conn, actor, "apikey.revoke", secret_id, {"customer": rows[0].customer}, now
        )
        rows = await key_store.list_keys(conn, secret_id=secret_id)
    platform.api_keys.invalidate(secret_id)
    return _key_info(rows[0], now)


def _token_info(row: key_store.TokenRow) -> TokenInfo:
    state = KeyState.ACTIVE if row.revoked_at is None else KeyState.REVOKED
    return TokenInfo(
        row.token_hash[:TOKEN_ID_LENGTH], row.name, row.created_at, row.revoked_at, state
    )


async def list_tokens(platform: Platform) -> list[TokenInfo]:
    """Every operator token, oldest first (by id and name; tokens are never shown again)."""
    async with platform.engine.connect() as conn:
        return [_token_info(row) for row in await key_store.list_tokens(conn)]


async def revoke_token(platform: Platform, token_id: str, actor: str = "operator") -> TokenInfo:
    """Revoke the operator token whose id (as listed) is ``token_id``."""
    if len(token_id) < TOKEN_ID_LENGTH:
        raise Invalid(f"a token id has {TOKEN_ID_LENGTH} characters (duanxin token list)", "id")
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await key_store.tokens_with_prefix(conn, token_id)
        if not found:
            raise NotFound(f"no operator token {token_id!r}")
        if not await key_store.revoke_token(conn, found[0].token_hash, now):
            raise Conflict(f"operator token {token_id!r} is already revoked")
        await account_store.write_audit(conn, actor, "token.revoke", found[0].name, {}, now)
        rows = await key_store.tokens_with_prefix(conn, token_id)
    return _token_info(rows[0])
