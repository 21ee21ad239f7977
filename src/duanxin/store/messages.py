"""Messages through their life: queued → submitting → submitted → done, with their segments."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, and_, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.store import prepared
from duanxin.store.tables import messages, orphan_reports, segments

__all__ = [
    "EventKind",
    "MessageEvent",
    "MessageState",
    "OrphanReport",
    "PendingMessage",
    "SegmentRow",
    "Submitted",
    "accepted_segments",
    "claim",
    "claiming_nodes",
    "closing",
    "find_segments",
    "hand_over",
    "insert_events",
    "insert_messages",
    "lease_due",
    "lock_channels_for_matching",
    "overdue_submitted",
    "park_orphans",
    "record_submits",
    "release_claims",
    "release_leases",
    "release_node_claims",
    "release_stale_claims",
    "requeue",
    "reset_claimed",
    "segment_stats",
    "segments_for",
    "set_segment_stats",
    "take_orphans",
]


class MessageState(StrEnum):
    QUEUED = "queued"  # accepted, waiting for a channel
    SUBMITTING = "submitting"  # claimed by a delivery worker
    SUBMITTED = "submitted"  # every segment accepted by a carrier; waiting for reports
    DONE = "done"  # final report written


class EventKind(StrEnum):
    """What a line of a message's delivery history says (``message_events.kind``).

    A message sent on the first try has no history: its ``messages`` row says it all.
    """

    SUBMITTED = "submitted"  # every segment accepted, after something else happened
    THROTTLED = "throttled"  # flow-control / busy answer (detail: the carrier's code)
    NO_RESPONSE = "no_response"  # unanswered after every resend within the timeout
    LINK_LOST = "link_lost"  # the link dropped with the submit in its window
    RETRIED = "retried"  # sent again on the same channel after a back-off
    FAILED_OVER = "failed_over"  # tries on one channel exhausted: on to the next
    REFUSED = "refused"  # a permanent refusal (detail: the carrier's code)
    LATE_RESPONSE = "late_response"  # an answer after the timeout, or for a resent copy
    REQUEUED = "requeued"  # no channel up: handed back to the queue for later
    FAILED = "failed"  # ended without a carrier accepting it (detail: the report stat)


@dataclass(frozen=True, slots=True)
class PendingMessage:
    mid: str
    account_id: int
    mobile: str
    carrier: str
    content: str
    extno: str
    segments: int
    attempts: int
    charged: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class SegmentRow:
    mid: str
    number: int
    carrier_id: str
    stat: str | None


@dataclass(frozen=True, slots=True)
class OrphanReport:
    carrier_id: str
    mobile: str
    stat: str
    received_at: datetime


# The statements every send, claim, submit record and report match runs (store.prepared).
#
# ``(state || '')`` where ids are given: SQLite keeps no statistics, and from five ids on
# it would rather walk the (state, not_before) index — every queued or submitting message,
# the whole backlog — than look the ids up (measured: 981 µs a message with 18,000 queued,
# against 19 µs). The expression keeps it off that index; PostgreSQL is not affected.
_MESSAGE_COLUMNS = tuple(messages.c.keys())
_MESSAGE_DEFAULTS: dict[str, Any] = {  # the table's Python-side defaults (extno, source ...)
    c.name: c.default.arg  # type: ignore[attr-defined]
    for c in messages.columns
    if c.default is not None and c.default.is_scalar
}
MAX_INSERT_SHAPES = 64  # INSERT texts kept, one per set of keys the callers' rows have
_CLAIM = prepared.Sql(
    f"""UPDATE messages SET state = '{MessageState.SUBMITTING.value}', attempts = attempts + 1,
        not_before = $2, claimed_by = $3
    WHERE mid = ANY($1) AND (state || '') = '{MessageState.QUEUED.value}'
    RETURNING mid, account_id, mobile, carrier, content, extno, segments, attempts, charged,
        created_at""",
    times=(9,),
)
_INSERT_SEGMENT = prepared.Sql(
    "INSERT INTO segments (mid, number, channel_id, carrier_id) VALUES ($1, $2, $3, $4)"
)
_MARK_SUBMITTED = prepared.Sql(
    f"""UPDATE messages SET state = '{MessageState.SUBMITTED.value}', channel_id = $2,
        source = $3, submitted_at = $4
    WHERE mid = $1 AND state != '{MessageState.DONE.value}'"""
)
_INSERT_EVENT = prepared.Sql(
    "INSERT INTO message_events (mid, at, kind, channel_id, detail) VALUES ($1, $2, $3, $4, $5)"
)
_SEGMENT_STATS = prepared.Sql(
    """SELECT messages.mid, messages.segments, segments.number, segments.stat
    FROM messages JOIN segments ON segments.mid = messages.mid
    WHERE messages.mid = ANY($1)
    ORDER BY segments.reported_at, segments.id"""
)
_FIND_SEGMENTS = prepared.Sql(
    """SELECT mid, number, carrier_id, stat FROM segments
    WHERE channel_id = $1 AND carrier_id = ANY($2)"""
)
_SET_SEGMENT_STAT = prepared.Sql(
    """UPDATE segments SET stat = $3, reported_at = $4, carrier_time = $5
    WHERE channel_id = $1 AND carrier_id = $2 AND stat IS NULL"""
)
_FIND_ORPHANS = prepared.Sql(
    """SELECT id, carrier_id, mobile, stat, received_at FROM orphan_reports
    WHERE channel_id = $1 AND carrier_id = ANY($2)""",
    times=(4,),
)
_DELETE_ORPHANS = prepared.Sql("DELETE FROM orphan_reports WHERE id = ANY($1)")
_PARK_ORPHAN = prepared.Sql(
    """INSERT INTO orphan_reports (channel_id, carrier_id, mobile, stat, received_at)
    VALUES ($1, $2, $3, $4, $5)"""
)
_CLOSING = prepared.Sql(
    """SELECT m.mid, m.account_id, m.mobile, m.source, m.charged, m.state,
        a.refund_on_failure, m.carrier, m.channel_id, m.created_at, m.submitted_at
    FROM messages m JOIN accounts a ON a.id = m.account_id
    WHERE m.mid = ANY($1)""",
    times=(9, 10),
)


def _state_is(state: MessageState) -> ColumnElement[bool]:
    """``state`` tested without the state index, for statements that name their ids."""
    return messages.c.state.concat("") == state.value


async def insert_messages(conn: AsyncConnection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Store new messages (rows keyed by column name; a column a row leaves out takes the
    table's default). Rows with the same keys go in one ``executemany``."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for keys, same in groups.items():
        insert = _message_insert(keys)
        await prepared.execute_many(conn, insert.sql, [insert.values(row) for row in same])


@dataclass(frozen=True, slots=True)
class _MessageInsert:
    """The INSERT for rows with one set of keys: the columns they give (read with one
    ``itemgetter``, in C), then the others with their defaults."""

    sql: prepared.Sql
    given: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    defaults: tuple[Any, ...]

    def values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        return self.given(row) + self.defaults


_INSERTS: dict[tuple[str, ...], _MessageInsert] = {}


def _message_insert(keys: tuple[str, ...]) -> _MessageInsert:
    found = _INSERTS.get(keys)
    if found is None:
        given = [k for k in keys if k in _MESSAGE_COLUMNS]
        others = [c for c in _MESSAGE_COLUMNS if c not in given]
        columns = given + others
        found = _MessageInsert(
            prepared.Sql(
                f"INSERT INTO messages ({', '.join(columns)}) "
                f"VALUES ({', '.join(f'${i}' for i in range(1, len(columns) + 1))})"
            ),
            _getter(given),
            tuple(_MESSAGE_DEFAULTS.get(c) for c in others),
        )
        if len(_INSERTS) < MAX_INSERT_SHAPES:
            _INSERTS[keys] = found
    return found


def _getter(keys: list[str]) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The values of ``keys`` of a row, as a tuple (``itemgetter`` gives a bare value for
    one key)."""
    if len(keys) > 1:
        return itemgetter(*keys)
    return lambda row: tuple(row[k] for k in keys)


async def claim(
    conn: AsyncConnection,
    mids: Sequence[str],
    lease_until: datetime | None = None,
    node: int | None = None,
) -> list[PendingMessage]:
    """Take queued messages for delivery; ones already taken or finished are skipped.

    A claim held past ``lease_until`` is taken to belong to a worker that died, and
    :func:`release_stale_claims` gives the message back; in a cluster ``node`` (the
    claiming worker's node id) lets :func:`release_node_claims` do so as soon as that
    worker's node lease is gone.
    """
    if not mids:
        return []
    rows = await prepared.fetch(conn, _CLAIM, list(mids), lease_until, node)
    return [PendingMessage(*row) for row in rows]


async def requeue(conn: AsyncConnection, mids: Sequence[str], not_before: datetime) -> None:
    """Give claimed messages back, to be tried again no earlier than ``not_before``."""
    if mids:
        await conn.execute(
            update(messages)
            .where(messages.c.mid.in_(mids), _state_is(MessageState.SUBMITTING))
            .values(state=MessageState.QUEUED.value, not_before=not_before)
        )


async def claiming_nodes(conn: AsyncConnection) -> list[int]:
    """The node ids holding claims now."""
    result = await conn.execute(
        select(messages.c.claimed_by)
        .where(
            messages.c.state == MessageState.SUBMITTING.value,
            messages.c.claimed_by.is_not(None),
        )
        .distinct()
    )
    return [int(row[0]) for row in result]


async def release_node_claims(conn: AsyncConnection, nodes: Sequence[int]) -> list[str]:
    """Give back the claims of workers that are gone (their node leases expired), or of
    a node id's previous holder when a starting process takes it: queued, due at once."""
    if not nodes:
        return []
    result = await conn.execute(
        update(messages)
        .where(
            messages.c.state == MessageState.SUBMITTING.value,
            messages.c.claimed_by.in_(list(nodes)),
        )
        .values(state=MessageState.QUEUED.value, not_before=None, claimed_by=None)
        .returning(messages.c.mid)
    )
    return [row[0] for row in result]


async def hand_over(conn: AsyncConnection, mids: Sequence[str]) -> list[str]:
    """Claims a worker could not use (the channels are connected on another worker):
    queued again, due at once, the claim not counted as an attempt."""
    if not mids:
        return []
    result = await conn.execute(
        update(messages)
        .where(messages.c.mid.in_(list(mids)), _state_is(MessageState.SUBMITTING))
        .values(
            state=MessageState.QUEUED.value,
            not_before=None,
            claimed_by=None,
            attempts=messages.c.attempts - 1,
        )
        .returning(messages.c.mid)
    )
    return [row[0] for row in result]


async def release_stale_claims(conn: AsyncConnection, now: datetime) -> int:
    """Give back messages whose worker's claim lease ran out (the worker died)."""
    result = await conn.execute(
        update(messages)
        .where(
            messages.c.state == MessageState.SUBMITTING.value,
            messages.c.not_before.is_not(None),
            messages.c.not_before < now,
        )
        .values(state=MessageState.QUEUED.value, not_before=None)
    )
    return result.rowcount or 0


async def reset_claimed(conn: AsyncConnection) -> int:
    """After a restart of the embedded process: every claim belonged to the process that
    stopped, so every claimed message goes back to the queue, due at once (the claim
    lease in ``not_before`` is cleared)."""
    result = await conn.execute(
        update(messages)
        .where(messages.c.state == MessageState.SUBMITTING.value)
        .values(state=MessageState.QUEUED.value, not_before=None)
    )
    return result.rowcount or 0


async def release_claims(conn: AsyncConnection, mids: Sequence[str]) -> list[str]:
    """A stopping worker gives back its claims on ``mids``: those still ``submitting`` are
    queued again, due at once; returns them (the others were recorded or requeued)."""
    if not mids:
        return []
    result = await conn.execute(
        update(messages)
        .where(messages.c.mid.in_(list(mids)), _state_is(MessageState.SUBMITTING))
        .values(state=MessageState.QUEUED.value, not_before=None)
        .returning(messages.c.mid)
    )
    return [row[0] for row in result]


async def release_leases(conn: AsyncConnection, mids: Sequence[str], lease_until: datetime) -> int:
    """Undo :func:`lease_due` for ``mids`` whose publication failed: due again at once."""
    if not mids:
        return 0
    result = await conn.execute(
        update(messages)
        .where(
            messages.c.mid.in_(list(mids)),
            _state_is(MessageState.QUEUED),
            messages.c.not_before == lease_until,
        )
        .values(not_before=None)
    )
    return result.rowcount or 0


async def lease_due(
    conn: AsyncConnection,
    now: datetime,
    *,
    created_before: datetime,
    lease_until: datetime,
    limit: int,
) -> list[str]:
    """Queued messages whose time has come, leased until ``lease_until`` so that they are
    handed out once: scheduled ones, retries, and ones accepted before ``created_before``
    that no worker has claimed (their bus entry was lost in a crash)."""
    result = await conn.execute(
        select(messages.c.mid)
        .where(
            messages.c.state == MessageState.QUEUED.value,
            or_(
                messages.c.not_before <= now,
                and_(messages.c.not_before.is_(None), messages.c.created_at < created_before),
            ),
        )
        .order_by(messages.c.created_at)
        .limit(limit)
    )
    mids = [row[0] for row in result]
    if mids:
        await conn.execute(
            update(messages)
            .where(messages.c.mid.in_(mids), _state_is(MessageState.QUEUED))
            .values(not_before=lease_until)
        )
    return mids


@dataclass(frozen=True, slots=True)
class Submitted:
    """Segments a carrier accepted: their ids, and whether the message is now all accepted.

    ``numbers`` are the segment numbers of ``carrier_ids`` (empty: 1, 2, ...). A segment
    may be stored more than once (a resent copy, a late answer): every id is kept, so that
    a report for any copy finds the message.
    """

    mid: str
    channel_id: int
    source: str
    carrier_ids: tuple[str, ...]
    numbers: tuple[int, ...] = ()
    complete: bool = True  # every segment is accepted now: the message is submitted


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """One line of a message's delivery history (table ``message_events``)."""

    mid: str
    at: datetime
    kind: str
    channel_id: int | None = None
    detail: str = ""


async def insert_events(conn: AsyncConnection, events: Sequence[MessageEvent]) -> None:
    if events:
        await prepared.execute_many(
            conn,
            _INSERT_EVENT,
            [(e.mid, e.at, e.kind, e.channel_id, e.detail[:64]) for e in events],
        )


async def record_submits(conn: AsyncConnection, done: Sequence[Submitted], now: datetime) -> None:
    """Store carrier ids of accepted segments; mark messages now wholly accepted submitted."""
    if not done:
        return
    rows = [
        (s.mid, n, s.channel_id, cid)
        for s in done
        for n, cid in zip(s.numbers or range(1, len(s.carrier_ids) + 1), s.carrier_ids, strict=True)
    ]
    if rows:
        await prepared.execute_many(conn, _INSERT_SEGMENT, rows)
    complete = [(s.mid, s.channel_id, s.source, now) for s in done if s.complete]
    if complete:  # a late copy of a finished message leaves it done
        await prepared.execute_many(conn, _MARK_SUBMITTED, complete)


async def accepted_segments(conn: AsyncConnection, mids: Sequence[str]) -> dict[str, set[int]]:
    """The segment numbers a carrier already accepted, for messages being sent again."""
    found: dict[str, set[int]] = {}
    if mids:
        result = await conn.execute(
            select(segments.c.mid, segments.c.number).where(segments.c.mid.in_(list(mids)))
        )
        for mid, number in result:
            found.setdefault(mid, set()).add(number)
    return found


async def segment_stats(conn: AsyncConnection, mids: Sequence[str]) -> dict[str, list[str | None]]:
    """Each message's stat per segment number, ``None`` where none came yet.

    A segment sent more than once (copies) takes the first report that came for any copy;
    a segment not accepted yet (still being retried) counts as not reported.
    """
    found: dict[str, list[str | None]] = {}
    if not mids:
        return found
    for mid, total, number, stat in await prepared.fetch(conn, _SEGMENT_STATS, list(mids)):
        stats = found.get(mid)
        if stats is None:
            stats = found[mid] = [None] * max(1, total)
        if stat is not None and 1 <= number <= len(stats) and stats[number - 1] is None:
            stats[number - 1] = stat
    return found


async def closing(conn: AsyncConnection, mids: Sequence[str]) -> list[Sequence[Any]]:
    """For messages about to get their final report: ``(mid, account_id, mobile, source,
    charged, state, refund_on_failure, carrier, channel_id, created_at, submitted_at)``."""
    if not mids:
        return []
    return await prepared.fetch(conn, _CLOSING, list(mids))


async def find_segments(
    conn: AsyncConnection, channel_id: int, carrier_ids: Iterable[str]
) -> list[SegmentRow]:
    """Segments sent on ``channel_id`` under any of ``carrier_ids``."""
    ids = list(carrier_ids)
    if not ids:
        return []
    return [SegmentRow(*row) for row in await prepared.fetch(conn, _FIND_SEGMENTS, channel_id, ids)]


async def set_segment_stats(
    conn: AsyncConnection,
    channel_id: int,
    stats: Sequence[tuple[str, str]],
    now: datetime,
    carrier_times: Mapping[str, datetime | None] | None = None,
) -> None:
    """Record ``(carrier_id, stat)`` for segments that have no stat yet (and the carrier's
    own time of each report, by carrier id, where it gave one)."""
    if stats:
        times = carrier_times or {}
        await prepared.execute_many(
            conn,
            _SET_SEGMENT_STAT,
            [(channel_id, c, st, now, times.get(c)) for c, st in stats],
        )


async def segments_for(conn: AsyncConnection, mids: Sequence[str]) -> dict[str, list[SegmentRow]]:
    """The segments of each of ``mids``, in segment order."""
    found: dict[str, list[SegmentRow]] = {mid: [] for mid in mids}
    if not mids:
        return found
    result = await conn.execute(
        select(segments.c.mid, segments.c.number, segments.c.carrier_id, segments.c.stat)
        .where(segments.c.mid.in_(list(mids)))
        .order_by(segments.c.mid, segments.c.number)
    )
    for row in result:
        found[row[0]].append(SegmentRow(*row))
    return found


# The advisory-lock namespace of report matching (PostgreSQL): one lock per channel.
_MATCH_LOCKS = 0x6478
_MATCH_LOCK = prepared.Sql("SELECT pg_advisory_xact_lock($1, $2)")  # every report batch


async def lock_channels_for_matching(conn: AsyncConnection, channel_ids: Iterable[int]) -> None:
    """Serialise, per channel, storing carrier ids with matching reports to them, until the
    transaction ends (PostgreSQL; SQLite has one writer anyway). Without it a report and
    its submit response committed at once by two transactions (two workers of a cluster,
    or two batches of one) each miss the other: the report parked, the submit stored, and
    neither ever matched. Locks are taken in channel order, so two never deadlock."""
    if conn.dialect.name != "postgresql":
        return
    for channel_id in sorted(set(channel_ids)):
        await prepared.fetch(conn, _MATCH_LOCK, _MATCH_LOCKS, channel_id)


async def park_orphans(
    conn: AsyncConnection, channel_id: int, orphans: Sequence[OrphanReport]
) -> None:
    """Keep reports whose submit responses have not been stored yet."""
    if orphans:
        await prepared.execute_many(
            conn,
            _PARK_ORPHAN,
            [(channel_id, o.carrier_id, o.mobile, o.stat, o.received_at) for o in orphans],
        )


async def take_orphans(
    conn: AsyncConnection, channel_id: int, carrier_ids: Sequence[str]
) -> list[OrphanReport]:
    """Remove and return parked reports for ``carrier_ids`` on ``channel_id``."""
    if not carrier_ids:
        return []
    rows = await prepared.fetch(conn, _FIND_ORPHANS, channel_id, list(carrier_ids))
    if rows:
        await prepared.execute(conn, _DELETE_ORPHANS, [row[0] for row in rows])
    return [OrphanReport(*row[1:]) for row in rows]


async def expire_orphans(conn: AsyncConnection, before: datetime) -> int:
    result = await conn.execute(delete(orphan_reports).where(orphan_reports.c.received_at < before))
    return result.rowcount or 0


async def overdue_submitted(conn: AsyncConnection, before: datetime, limit: int) -> list[str]:
    """Submitted messages still without a final report since before ``before``."""
    result = await conn.execute(
        select(messages.c.mid)
        .where(
            messages.c.state == MessageState.SUBMITTED.value,
            messages.c.submitted_at < before,
        )
        .limit(limit)
    )
    return [row[0] for row in result]
