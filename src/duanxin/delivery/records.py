"""What delivery writes: submit results, reports (matched or parked), replies, final reports.

Each ``write_*`` function is one transaction over a batch; ``store_*`` does the same within
a transaction the caller holds (the worker writes claims, submit results and reports of
one write-behind batch together, having locked their channels for matching first).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from duanxin.domain.reports import (
    LongReport,
    carrier_id_variants,
    final_stat,
    is_opt_out,
    normalise_carrier_id,
)
from duanxin.domain.status import DELIVERED
from duanxin.store import accounts as account_store
from duanxin.store import inbox
from duanxin.store import messages as message_store
from duanxin.store import policy as policy_store
from duanxin.store import stats as stats_store
from duanxin.store.messages import Submitted

__all__ = [
    "ReceivedReport",
    "fail_messages",
    "store_reports",
    "store_submits",
    "write_replies",
    "write_reports",
    "write_submits",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ReceivedReport:
    channel_id: int
    protocol: str
    long_report: LongReport
    carrier_id: str
    mobile: str
    stat: str
    received_at: datetime
    carrier_time: datetime | None = None  # the carrier's time of the report, if it gave one


async def write_submits(
    engine: AsyncEngine,
    done: Sequence[tuple[Submitted, str, LongReport]],
    now: datetime,
    events: Sequence[message_store.MessageEvent] = (),
) -> None:
    """Store accepted submits and history events, then settle reports that arrived before
    their ids were known."""
    async with engine.begin() as conn:
        await message_store.lock_channels_for_matching(conn, (s.channel_id for s, _, _ in done))
        await store_submits(conn, done, now, events)


async def store_submits(
    conn: AsyncConnection,
    done: Sequence[tuple[Submitted, str, LongReport]],
    now: datetime,
    events: Sequence[message_store.MessageEvent] = (),
) -> None:
    """:func:`write_submits` in the caller's transaction, its channels already locked
    (:func:`~duanxin.store.messages.lock_channels_for_matching`)."""
    await message_store.insert_events(conn, events)
    moved = {s.mid: s.channel_id for s, _, _ in done if s.complete}
    await stats_store.count_submitted(conn, moved)
    await message_store.record_submits(conn, [s for s, _, _ in done], now)
    orphans: list[ReceivedReport] = []
    by_channel: dict[int, list[tuple[Submitted, str, LongReport]]] = defaultdict(list)
    for item in done:
        by_channel[item[0].channel_id].append(item)
    for channel_id, items in by_channel.items():
        protocol, policy = items[0][1], items[0][2]
        # A parked report may spell the id another way (SMPP hex vs decimal).
        ids = sorted(
            {
                v
                for s, _, _ in items
                for cid in s.carrier_ids
                for v in carrier_id_variants(protocol, cid)
            }
        )
        for orphan in await message_store.take_orphans(conn, channel_id, ids):
            orphans.append(
                ReceivedReport(
                    channel_id,
                    protocol,
                    policy,
                    orphan.carrier_id,
                    orphan.mobile,
                    orphan.stat,
                    orphan.received_at,
                )
            )
    if orphans:
        await _apply_reports(conn, orphans, now)


async def write_reports(
    engine: AsyncEngine, received: Sequence[ReceivedReport], now: datetime
) -> None:
    async with engine.begin() as conn:
        await message_store.lock_channels_for_matching(conn, (r.channel_id for r in received))
        await _apply_reports(conn, received, now)


async def store_reports(
    conn: AsyncConnection, received: Sequence[ReceivedReport], now: datetime
) -> None:
    """:func:`write_reports` in the caller's transaction, its channels already locked."""
    await _apply_reports(conn, received, now)


async def _apply_reports(
    conn: AsyncConnection, received: Sequence[ReceivedReport], now: datetime
) -> None:
    """Match a batch of reports to segments (a few queries per channel, not per report),
    park the unmatched ones, and finish the messages the matched ones decide."""
    by_channel: dict[int, list[ReceivedReport]] = defaultdict(list)
    for report in received:
        by_channel[report.channel_id].append(report)
    touched: dict[str, LongReport] = {}
    for channel_id, batch in by_channel.items():
        touched.update(await _match_channel_reports(conn, channel_id, batch, now))
    segment_stats = await message_store.segment_stats(conn, list(touched))
    finals = []
    for mid, policy in touched.items():
        stat = final_stat(segment_stats.get(mid, []), policy)
        if stat is not None:
            finals.append((mid, stat))
    await _finish(conn, finals, now)


async def _match_channel_reports(
    conn: AsyncConnection, channel_id: int, batch: Sequence[ReceivedReport], now: datetime
) -> dict[str, LongReport]:
    variants = {id(r): carrier_id_variants(r.protocol, r.carrier_id) for r in batch}
    rows = await message_store.find_segments(conn, channel_id, set().union(*variants.values()))
    by_id: dict[str, list[message_store.SegmentRow]] = defaultdict(list)
    for row in rows:
        by_id[row.carrier_id].append(row)
    stats: list[tuple[str, str]] = []
    times: dict[str, datetime | None] = {}
    orphans: list[message_store.OrphanReport] = []
    touched: dict[str, LongReport] = {}
    for report in batch:
        matched = [row for v in variants[id(report)] for row in by_id.get(v, ())]
        if not matched:
            carrier_id = normalise_carrier_id(report.protocol, report.carrier_id)
            orphans.append(
                message_store.OrphanReport(
                    carrier_id, report.mobile[:21], report.stat[:7], report.received_at
                )
            )
            continue
        stats.extend((row.carrier_id, report.stat[:7]) for row in matched)
        times.update((row.carrier_id, _local(report.carrier_time)) for row in matched)
        touched.update((row.mid, report.long_report) for row in matched)
    await message_store.set_segment_stats(conn, channel_id, stats, now, times)
    await message_store.park_orphans(conn, channel_id, orphans)
    return touched


def _local(moment: datetime | None) -> datetime | None:
    """A carrier's time (in its zone) as the store keeps times: platform local, naive."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone().replace(tzinfo=None)


async def fail_messages(
    engine: AsyncEngine, failures: Sequence[tuple[str, str]], now: datetime
) -> None:
    """End messages with a platform stat (e.g. DX:0100) and refund where the account says so."""
    async with engine.begin() as conn:
        await _finish(conn, failures, now)


async def _finish(conn: AsyncConnection, finals: Sequence[tuple[str, str]], now: datetime) -> None:
    if not finals:
        return
    stats = dict(finals)
    reports = []
    counted = []
    for row in await message_store.closing(conn, list(stats)):
        mid, account_id, mobile, source, charged, state, refund, *cell = row
        if state == message_store.MessageState.DONE.value:
            continue
        stat = stats[mid]
        reports.append(inbox.FinalReport(account_id, mid, mobile, stat, source, now))
        refunded = charged if refund and charged and stat != DELIVERED else 0
        if refunded:
            await account_store.adjust_balance(conn, account_id, charged, "refund", mid, now)
        carrier, channel_id, created_at, submitted_at = cell
        counted.append(
            stats_store.Finished(
                account_id, carrier, channel_id, created_at, submitted_at, stat, now, refunded
            )
        )
    await stats_store.count_finished(conn, counted)
    await inbox.finish(conn, reports)


@dataclass(frozen=True, slots=True)
class ReceivedReply:
    account_id: int
    mid: str
    mobile: str
    access_code: str
    content: str
    received_at: datetime


async def write_replies(engine: AsyncEngine, replies: Sequence[ReceivedReply]) -> None:
    """Store replies; opt-out words also put the number on the account's opt-out list."""
    async with engine.begin() as conn:
        await inbox.insert_replies(
            conn,
            [
                inbox.Reply(r.account_id, r.mid, r.mobile, r.access_code, r.content, r.received_at)
                for r in replies
            ],
        )
        for reply in replies:
            if is_opt_out(reply.content):
                await _opt_out(conn, reply.account_id, reply.mobile[-11:], reply.received_at)


async def _opt_out(conn: AsyncConnection, account_id: int, mobile: str, now: datetime) -> None:
    await policy_store.add_optouts(conn, account_id, [mobile], now)
