"""Channels and routes as the operator edits them (the running pool reads them elsewhere)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store.tables import accounts, channels, messages, routes, segments

__all__ = ["all_routes", "channel_in_use", "delete_channel", "find_channel", "update_channel"]


async def find_channel(conn: AsyncConnection, name: str) -> dict[str, Any] | None:
    row = (await conn.execute(select(channels).where(channels.c.name == name))).mappings().first()
    return None if row is None else dict(row)


async def update_channel(conn: AsyncConnection, name: str, values: Mapping[str, Any]) -> bool:
    result = await conn.execute(update(channels).where(channels.c.name == name).values(**values))
    return bool(result.rowcount)


async def channel_in_use(conn: AsyncConnection, channel_id: int) -> bool:
    """Whether any message or segment refers to the channel (its history must stay)."""
    used = select(
        exists().where(messages.c.channel_id == channel_id)
        | exists().where(segments.c.channel_id == channel_id)
    )
    return bool((await conn.execute(used)).scalar())


async def delete_channel(conn: AsyncConnection, channel_id: int) -> None:
    """Remove a channel and the routes over it."""
    await conn.execute(delete(routes).where(routes.c.channel_id == channel_id))
    await conn.execute(delete(channels).where(channels.c.id == channel_id))


async def all_routes(conn: AsyncConnection) -> list[tuple[str, str, int, str, bool]]:
    """Every route: (account, carrier, priority, channel, channel enabled)."""
    rows = await conn.execute(
        select(
            accounts.c.account,
            routes.c.carrier,
            routes.c.priority,
            channels.c.name,
            channels.c.enabled,
        )
        .join(accounts, accounts.c.id == routes.c.account_id)
        .join(channels, channels.c.id == routes.c.channel_id)
        .order_by(accounts.c.account, routes.c.carrier, routes.c.priority)
    )
    return [(str(a), str(c), int(p), str(n), bool(e)) for a, c, p, n, e in rows]
