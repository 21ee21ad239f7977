"""What the customer CMPP/SMPP servers keep: the ids they gave, and who is logged in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store import prepared
from duanxin.store.tables import access_connections, replies, reports

__all__ = [
    "ConnectionRow",
    "ReportDetails",
    "forget_connection",
    "forget_node",
    "keep_connection",
    "keep_given_ids",
    "list_connections",
    "report_details",
]


# Every submit over CMPP/SMPP and every report delivered to a connection (store.prepared).
_KEEP_GIVEN_ID = prepared.Sql(
    "INSERT INTO access_ids (mid, position, given_id) VALUES ($1, $2, $3)"
)
_REPORT_DETAILS = prepared.Sql(
    """SELECT m.mid, m.created_at, a.given_id
    FROM messages m LEFT JOIN access_ids a ON a.mid = m.mid
    WHERE m.mid = ANY($1)
    ORDER BY m.mid, a.position""",
    times=(1,),
)


async def keep_given_ids(conn: AsyncConnection, given: Mapping[str, Sequence[str]]) -> None:
    """Store, per mid, the ids its customer was given (in segment order)."""
    rows = [
        (mid, position, given_id)
        for mid, ids in given.items()
        for position, given_id in enumerate(ids)
    ]
    if rows:
        await prepared.execute_many(conn, _KEEP_GIVEN_ID, rows)


@dataclass(frozen=True, slots=True)
class ReportDetails:
    """What a report's DELIVER needs beyond the report: when the message was accepted, and
    the ids its customer was given (none stored: the mid itself)."""

    submitted: datetime
    given_ids: tuple[str, ...]


async def report_details(conn: AsyncConnection, mids: Sequence[str]) -> dict[str, ReportDetails]:
    """:class:`ReportDetails` for each of ``mids`` whose message is stored."""
    if not mids:
        return {}
    found: dict[str, tuple[datetime, list[str]]] = {}
    for start in range(0, len(mids), prepared.MAX_LIST):
        chunk = list(mids[start : start + prepared.MAX_LIST])
        for mid, created_at, given_id in await prepared.fetch(conn, _REPORT_DETAILS, chunk):
            entry = found.get(mid)
            if entry is None:
                entry = found[mid] = (created_at, [])
            if given_id is not None:
                entry[1].append(given_id)
    return {
        mid: ReportDetails(created, tuple(given) or (mid,))
        for mid, (created, given) in found.items()
    }


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
