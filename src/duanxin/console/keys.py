"""The console's calls for API keys, in one place (so that they follow the key service).

Keys belong to a customer; an account's page shows its customer's keys.
"""

from __future__ import annotations

from duanxin.service import keyring
from duanxin.service.admin import ApiKey
from duanxin.service.keyring import KeyInfo
from duanxin.service.platform import Platform

__all__ = ["ApiKey", "KeyInfo", "customer_name", "issue", "keys_of", "revoke"]


async def keys_of(platform: Platform, customer_id: int) -> list[KeyInfo]:
    return await keyring.list_keys(platform, customer_id)


async def issue(platform: Platform, customer_id: int, actor: str) -> ApiKey:
    """A new key; its SecretKey is shown on the answering page and never again."""
    return await keyring.issue_key(platform, customer_id, actor)


async def revoke(platform: Platform, customer_id: int, secret_id: str, actor: str) -> None:
    await keyring.revoke_key(platform, customer_id, secret_id, actor)


async def customer_name(platform: Platform, customer_id: int) -> str:
    return (await keyring.customer_names(platform)).get(customer_id, "")
