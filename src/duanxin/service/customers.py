"""Customers as the console lists them (accounts belong to a customer; keys too)."""

from __future__ import annotations

from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store

__all__ = ["customer_names"]


async def customer_names(platform: Platform) -> dict[int, str]:
    """Every customer's name by id."""
    async with platform.engine.connect() as conn:
        rows = await account_store.list_customers(conn)
    return {int(r["id"]): str(r["name"]) for r in rows}
