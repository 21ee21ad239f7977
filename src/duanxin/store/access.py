"""What the customer CMPP/SMPP servers keep: the ids they gave, and who is logged in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store.tables import access_connections, access_ids, messages, replies, reports

__all__ = [
    "ConnectionRow",
    "forget_connection",
    "forget_node",
    "given_ids",
    "keep_connection",
    "keep_given_ids",
    "list_connections",
    "submitted_at",
]


async def keep_given_ids(conn: AsyncConnection, given: Mapping[str, Sequence[str]]) -> None:
    """Store, per mid, the ids its customer was given (in segment order)."""
    rows = [
        {"mid": mid, "position": position, "given_id": given_id}
        for mid, ids in given.items()
        for position, given_id in enumerate(ids)
    ]
    if rows:
        await conn.execute(insert(access_ids), rows)


async def given_ids(conn: AsyncConnection, mids: Sequence[str]) -> dict[str, list[str]]:
    """The ids given for each of ``mids`` that has any stored (others: just the mid)."""
    if not mids:
        return {}
    query = (
        select(access_ids.c.mid, access_ids.c.given_id)
        .where(access_ids.c.mid.in_(list(mids)))
        .order_by(access_ids.c.mid, access_ids.c.position)
    )
    found: dict[str, list[str]] = {}
    for mid, given_id in await conn.execute(query):
        found.setdefault(mid, []).append(given_id)
    return found


async def submitted_at(conn: AsyncConnection, mids: Sequence[str]) -> dict[str, datetime]:
    """When each of ``mids`` was accepted."""
    if not mids:
        return {}
    query = select(messages.c.mid, messages.c.created_at).where(messages.c.mid.in_(list(mids)))
    return {mid: created for mid, created in await conn.execute(query)}


@dataclass(frozen=True, slots=True)
class ConnectionRow:
    """One logged-in customer connection, with the deliveries it holds unanswered."""

    consumer: str
    node_id: int
    account: str
    protocol: str
    bind_type: str
    peer: str
    since: datetime
    in_flight: int = 0


async def keep_connection(conn: AsyncConnection, row: ConnectionRow) -> None:
    await conn.execute(
        insert(access_connections).values(
            consumer=row.consumer,
            node_id=row.node_id,
            account=row.account,
            protocol=row.protocol,
            bind_type=row.bind_type,
            peer=row.peer,
            since=row.since,
        )
    )


async def forget_connection(conn: AsyncConnection, consumer: str) -> None:
    await conn.execute(delete(access_connections).where(access_connections.c.consumer == consumer))


async def forget_node(conn: AsyncConnection, node_id: int) -> None:
    """Drop the rows a process of ``node_id`` left behind (it stopped without logging out)."""
    await conn.execute(delete(access_connections).where(access_connections.c.node_id == node_id))


async def list_connections(conn: AsyncConnection, now: datetime) -> list[ConnectionRow]:
    """Every logged-in connection, oldest first, with its claimed inbox items counted."""
    held: dict[str, int] = {}
    for table in (reports, replies):
        query = (
            select(table.c.claimed_by, func.count())
            .where(
                table.c.claimed_by.is_not(None),
                table.c.pulled.is_(False),
                or_(table.c.claimed_until.is_(None), table.c.claimed_until > now),
            )
            .group_by(table.c.claimed_by)
        )
        for consumer, count in await conn.execute(query):
            held[consumer] = held.get(consumer, 0) + int(count)
    rows = await conn.execute(select(access_connections).order_by(access_connections.c.since))
    return [
        ConnectionRow(
            consumer=r["consumer"],
            node_id=r["node_id"],
            account=r["account"],
            protocol=r["protocol"],
            bind_type=r["bind_type"],
            peer=r["peer"],
            since=r["since"],
            in_flight=held.get(r["consumer"], 0),
        )
        for r in rows.mappings()
    ]
