"""The console's calls for API keys, in one place (they follow :mod:`duanxin.service.keys`).

Keys belong to a customer; an account's page shows its customer's keys. A customer
revokes only its own keys: the key's customer is checked against the session's.
"""

from __future__ import annotations

from duanxin.service import keys
from duanxin.service.customers import customer_names
from duanxin.service.keys import IssuedKey, KeyInfo, KeyState
from duanxin.service.platform import Platform

__all__ = ["IssuedKey", "KeyInfo", "KeyState", "customer_name", "issue", "keys_of", "revoke"]


async def keys_of(platform: Platform, customer: str) -> list[KeyInfo]:
    return await keys.list_keys(platform, customer)


async def issue(platform: Platform, customer: str, actor: str) -> IssuedKey:
    """A new key; its SecretKey is shown on the answering page and never again."""
    return await keys.issue_key(platform, customer, actor)


async def revoke(platform: Platform, customer: str, secret_id: str, actor: str) -> None:
    """Revoke one of ``customer``'s keys (LookupError for any other key)."""
    await keys.revoke_key(platform, secret_id, actor, customer=customer)


async def customer_name(platform: Platform, customer_id: int) -> str:
    return (await customer_names(platform)).get(customer_id, "")
