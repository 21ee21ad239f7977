"""A customer's API keys as the console manages them: list, issue (shown once), revoke.

Issuing goes through :func:`duanxin.service.admin.issue_api_key`; the SecretKey is
returned once and never read back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from duanxin.service import admin
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store

__all__ = ["KeyInfo", "customer_names", "issue_key", "list_keys", "revoke_key"]


@dataclass(frozen=True, slots=True)
class KeyInfo:
    secret_id: str
    enabled: bool
    created_at: datetime


async def list_keys(platform: Platform, customer_id: int) -> list[KeyInfo]:
    async with platform.engine.connect() as conn:
        rows = await account_store.list_api_keys(conn, customer_id)
    return [KeyInfo(r["secret_id"], bool(r["enabled"]), r["created_at"]) for r in rows]


async def issue_key(platform: Platform, customer_id: int, actor: str) -> admin.ApiKey:
    return await admin.issue_api_key(platform, customer_id, actor)


async def revoke_key(platform: Platform, customer_id: int, secret_id: str, actor: str) -> None:
    """Revoke one of the customer's keys (LookupError: it has no such enabled key)."""
    now = platform.clock()
    async with platform.engine.begin() as conn:
        if not await account_store.disable_api_key(conn, customer_id, secret_id):
            raise LookupError(f"no enabled key {secret_id!r} for this customer")
        await account_store.write_audit(
            conn, actor, "apikey.revoke", secret_id, {"customer_id": customer_id}, now
        )
    platform.api_keys.invalidate(secret_id)


async def customer_names(platform: Platform) -> dict[int, str]:
    """Every customer's name by id."""
    async with platform.engine.connect() as conn:
        rows = await account_store.list_customers(conn)
    return {int(r["id"]): str(r["name"]) for r in rows}
