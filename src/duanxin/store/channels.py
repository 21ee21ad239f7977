"""Carrier channels and the routes over them (the operator's side; the delivery worker
reads channels in delivery/channels.py). Carrier passwords are stored encrypted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store import crypto
from duanxin.store.tables import (
    accounts,
    channels,
    message_events,
    messages,
    orphan_reports,
    routes,
    segments,
)

__all__ = [
    "all_routes",
    "channel_ids",
    "channel_in_use",
    "delete_channel",
    "find_channel",
    "insert_channel",
    "list_channels",
    "replace_route",
    "set_enabled",
    "update_channel",
]


def _stored(values: Mapping[str, Any]) -> dict[str, Any]:
    stored = dict(values)
    if "password" in stored:
        stored["password"] = crypto.conceal(stored["password"])
    return stored


async def insert_channel(conn: AsyncConnection, values: Mapping[str, Any]) -> int:
    result = await conn.execute(
        channels.insert().values(**_stored(values)).returning(channels.c.id)
    )
    return int(result.scalar_one())


async def find_channel(conn: AsyncConnection, name: str) -> dict[str, Any] | None:
    """The channel called ``name`` (its password in clear), or None."""
    row = (await conn.execute(select(channels).where(channels.c.name == name))).mappings().first()
    if row is None:
        return None
    found = dict(row)
    found["password"] = crypto.reveal(found["password"])
    return found


async def update_channel(conn: AsyncConnection, name: str, values: Mapping[str, Any]) -> None:
    await conn.execute(update(channels).where(channels.c.name == name).values(**_stored(values)))


async def list_channels(conn: AsyncConnection) -> list[dict[str, Any]]:
    """Every channel, oldest first, without its password."""
    rows = (await conn.execute(select(channels).order_by(channels.c.id))).mappings()
    return [{k: v for k, v in row.items() if k != "password"} for row in rows]


async def set_enabled(conn: AsyncConnection, name: str, enabled: bool) -> bool:
    result = await conn.execute(
        update(channels).where(channels.c.name == name).values(enabled=enabled)
    )
    return bool(result.rowcount)


async def channel_in_use(conn: AsyncConnection, channel_id: int) -> bool:
    """Whether any message, segment or event names the channel (it must then stay)."""
    query = select(
        or_(
            exists().where(messages.c.channel_id == channel_id),
            exists().where(segments.c.channel_id == channel_id),
            exists().where(message_events.c.channel_id == channel_id),
            exists().where(orphan_reports.c.channel_id == channel_id),
        )
    )
    return bool((await conn.execute(query)).scalar())


async def delete_channel(conn: AsyncConnection, channel_id: int) -> None:
    """Remove the channel and the routes over it."""
    await conn.execute(delete(routes).where(routes.c.channel_id == channel_id))
    await conn.execute(delete(channels).where(channels.c.id == channel_id))


async def channel_ids(conn: AsyncConnection, names: Sequence[str]) -> dict[str, int]:
    """The ids of those of ``names`` that are channels."""
    if not names:
        return {}
    rows = await conn.execute(
        select(channels.c.name, channels.c.id).where(channels.c.name.in_(list(names)))
    )
    return {str(name): int(channel_id) for name, channel_id in rows}


async def replace_route(
    conn: AsyncConnection, account_id: int, carrier: str, channel_ids: Sequence[int]
) -> None:
    """The account's channels for ``carrier``, in order of preference (replacing the old)."""
    await conn.execute(
        delete(routes).where(routes.c.account_id == account_id, routes.c.carrier == carrier)
    )
    for priority, channel_id in enumerate(channel_ids):
        await conn.execute(
            routes.insert().values(
                account_id=account_id, carrier=carrier, priority=priority, channel_id=channel_id
            )
        )


async def all_routes(conn: AsyncConnection) -> list[tuple[str, str, int, str, bool]]:
    """Every route: (account, carrier, priority, channel, channel enabled), by account."""
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
