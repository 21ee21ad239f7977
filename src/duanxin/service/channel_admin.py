"""Editing and removing channels, and the routing table as a list (the console's needs;
adding, enabling and routing are in :mod:`duanxin.service.admin`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from duanxin.service.admin import changes_accounts, check_channel_settings
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store
from duanxin.store import channels as channel_store

__all__ = ["CHANNEL_FIELDS", "RouteRow", "edit_channel", "list_routes", "remove_channel"]

#: Columns an operator may change (the password only when a new one is given).
CHANNEL_FIELDS: dict[str, type] = {
    "host": str,
    "port": int,
    "account": str,
    "password": str,
    "access_code": str,
    "service_id": str,
    "sp_code": str,
    "window": int,
    "tps": int,
    "max_connections": int,
}
_LIMITS = {"port": (1, 65535), "window": (1, 1024), "tps": (0, 100_000), "max_connections": (1, 64)}


@dataclass(frozen=True, slots=True)
class RouteRow:
    account: str
    carrier: str
    priority: int
    channel: str
    channel_enabled: bool


def _checked(changes: Mapping[str, Any]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        kind = CHANNEL_FIELDS.get(name)
        if kind is None:
            raise ValueError(f"unknown channel field {name!r}")
        if kind is int:
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value.strip())
            low, high = _LIMITS[name]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number from {low} to {high}")
        elif not isinstance(value, str):
            raise ValueError(f"{name} must be text")
        elif name != "password":
            value = value.strip()
            if name in ("host", "account", "access_code") and not value:
                raise ValueError(f"{name} is required")
        checked[name] = value
    if checked.get("password") == "":
        del checked["password"]  # left blank: keep the old one
    return checked


@changes_accounts
async def edit_channel(
    platform: Platform,
    name: str,
    changes: Mapping[str, Any],
    actor: str,
    alphabet: str | None = None,
) -> None:
    """Change a channel's connection settings (the running pool takes them on restart)."""
    values = _checked(changes)
    now = platform.clock()
    async with platform.engine.begin() as conn:
        row = await channel_store.find_channel(conn, name)
        if row is None:
            raise LookupError(f"no channel {name!r}")
        if alphabet is not None:
            values["settings"] = check_channel_settings(
                row["protocol"], {**(row["settings"] or {}), "alphabet": alphabet}
            )
        await channel_store.update_channel(conn, name, values)
        shown = {k: ("***" if k == "password" else v) for k, v in values.items()}
        await account_store.write_audit(conn, actor, "channel.edit", name, shown, now)


@changes_accounts
async def remove_channel(platform: Platform, name: str, actor: str) -> None:
    """Remove a channel no message went through (one that did: disable it instead)."""
    now = platform.clock()
    async with platform.engine.begin() as conn:
        row = await channel_store.find_channel(conn, name)
        if row is None:
            raise LookupError(f"no channel {name!r}")
        if await channel_store.channel_in_use(conn, int(row["id"])):
            raise ValueError(f"channel {name} has carried messages; disable it instead")
        await channel_store.delete_channel(conn, int(row["id"]))
        await account_store.write_audit(conn, actor, "channel.remove", name, {}, now)


async def list_routes(platform: Platform) -> list[RouteRow]:
    async with platform.engine.connect() as conn:
        return [RouteRow(*row) for row in await channel_store.all_routes(conn)]
