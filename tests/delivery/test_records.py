"""Delivery's writes against a real store: report matching, long messages, refunds, sweeps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from duanxin.config import Settings
from duanxin.delivery.records import ReceivedReport, write_reports, write_submits
from duanxin.delivery.sweeper import Sweeper
from duanxin.domain.billing import ChargeType
from duanxin.domain.reports import LongReport
from duanxin.service import admin
from duanxin.service.platform import Platform
from duanxin.store import messages as message_store
from duanxin.store.messages import EventKind, Submitted
from duanxin.store.tables import accounts, message_events, messages, orphan_reports, reports

NOW = datetime(2026, 11, 28, 12, 0, 0)


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Platform]:
    from duanxin.store.engine import migrate

    await asyncio.to_thread(migrate, database_url)
    platform = Platform.open(Settings(database_url=database_url))
    platform.clock = lambda: NOW
    try:
        yield platform
    finally:
        await platform.close()


async def _setup(platform: Platform, *, refund: bool = False) -> tuple[int, int]:
    customer = await admin.create_customer(platform, "acme")
    account = await admin.create_account(
        platform,
        customer,
        admin.AccountSpec(
            "acme",
            "pw",
            "922011",
            charge_type=ChargeType.PRECHARGE,
            balance=10,
            refund_on_failure=refund,
        ),
    )
    channel = await admin.add_channel(
        platform, admin.ChannelSpec("c1", "smpp", "127.0.0.1", 1, "sys", "pw", "1069")
    )
    return account, channel


async def _message(platform: Platform, account: int, mid: str, segments: int = 1) -> None:
    row: dict[str, Any] = {
        "mid": mid,
        "account_id": account,
        "mobile": "13800138000",
        "carrier": "cmcc",
        "content": "x",
        "extno": "",
        "segments": segments,
        "charged": segments,
        "state": "submitting",
        "not_before": None,
        "stat": None,
        "created_at": NOW,
        "done_at": None,
    }
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, [row])


def _report(channel: int, carrier_id: str, stat: str, policy: LongReport = LongReport.ALL) -> Any:
    return ReceivedReport(channel, "smpp", policy, carrier_id, "8613800138000", stat, NOW)


async def _final(platform: Platform, mid: str) -> str | None:
    async with platform.engine.connect() as conn:
        row = (await conn.execute(select(reports.c.stat).where(reports.c.mid == mid))).first()
    return None if row is None else str(row[0])


async def test_a_report_that_beats_the_submit_response_is_matched_later(
    platform: Platform,
) -> None:
    account, channel = await _setup(platform)
    await _message(platform, account, "A" * 16)
    await write_reports(platform.engine, [_report(channel, "1F4", "DELIVRD")], NOW)
    assert await _final(platform, "A" * 16) is None  # parked, not lost
    submitted = Submitted("A" * 16, channel, "1069", ("500",))  # decimal rendering of 0x1F4
    await write_submits(platform.engine, [(submitted, "smpp", LongReport.ALL)], NOW)
    assert await _final(platform, "A" * 16) == "DELIVRD"


@pytest.mark.parametrize(
    ("policy", "stats", "expected"),
    [
        (LongReport.ALL, ["DELIVRD", "UNDELIV", "DELIVRD"], "UNDELIV"),
        (LongReport.ALL, ["DELIVRD", "DELIVRD", "DELIVRD"], "DELIVRD"),
        (LongReport.FIRST, ["EXPIRED", None, None], "EXPIRED"),
        (LongReport.LAST, [None, None, "DELIVRD"], "DELIVRD"),
    ],
)
async def test_a_long_message_ends_with_one_report(
    platform: Platform, policy: LongReport, stats: list[str | None], expected: str
) -> None:
    account, channel = await _setup(platform)
    await _message(platform, account, "B" * 16, segments=3)
    submitted = Submitted("B" * 16, channel, "1069", ("a1", "a2", "a3"))
    await write_submits(platform.engine, [(submitted, "smpp", policy)], NOW)
    received = [
        _report(channel, cid, stat, policy)
        for cid, stat in zip(("a1", "a2", "a3"), stats, strict=True)
        if stat is not None
    ]
    await write_reports(platform.engine, received, NOW)
    assert await _final(platform, "B" * 16) == expected
    await write_reports(platform.engine, [_report(channel, "a1", "UNDELIV", policy)], NOW)
    assert await _final(platform, "B" * 16) == expected  # one report per mid, ever


async def test_failed_messages_are_refunded_when_the_account_says_so(platform: Platform) -> None:
    account, channel = await _setup(platform, refund=True)
    await _message(platform, account, "C" * 16, segments=2)
    submitted = Submitted("C" * 16, channel, "1069", ("c1", "c2"))
    await write_submits(platform.engine, [(submitted, "smpp", LongReport.ALL)], NOW)
    await write_reports(
        platform.engine,
        [_report(channel, "c1", "DELIVRD"), _report(channel, "c2", "MA:0001")],
        NOW,
    )
    assert await _final(platform, "C" * 16) == "MA:0001"
    async with platform.engine.connect() as conn:
        balance = (await conn.execute(select(accounts.c.balance))).scalar_one()
    assert balance == 12  # 10 + the 2 units charged for the two segments


async def test_messages_without_a_report_end_as_unknown_after_the_window(
    platform: Platform,
) -> None:
    account, channel = await _setup(platform)
    await _message(platform, account, "D" * 16)
    submitted = Submitted("D" * 16, channel, "1069", ("d1",))
    await write_submits(platform.engine, [(submitted, "smpp", LongReport.ALL)], NOW)
    sweeper = Sweeper(platform, worker=None)
    platform.clock = lambda: NOW + timedelta(hours=71)
    await sweeper.expire_reports()
    assert await _final(platform, "D" * 16) is None
    platform.clock = lambda: NOW + timedelta(hours=72, seconds=1)
    await sweeper.expire_reports()
    assert await _final(platform, "D" * 16) == "UNKNOWN"


async def _state(platform: Platform, mid: str) -> str:
    async with platform.engine.connect() as conn:
        return str(
            (await conn.execute(select(messages.c.state).where(messages.c.mid == mid))).scalar_one()
        )


async def test_a_report_for_any_copy_of_a_segment_settles_it_and_the_first_decides(
    platform: Platform,
) -> None:
    """A segment accepted twice (a resent copy, a late answer) keeps both ids: a report for
    either matches, none is parked, and the message is reported once."""
    account, channel = await _setup(platform)
    mid = "E" * 16
    await _message(platform, account, mid)
    first = Submitted(mid, channel, "1069", ("e1",), (1,))
    copy = Submitted(mid, channel, "1069", ("e2",), (1,))
    await write_submits(platform.engine, [(first, "smpp", LongReport.ALL)], NOW)
    await write_submits(platform.engine, [(copy, "smpp", LongReport.ALL)], NOW)
    await write_reports(platform.engine, [_report(channel, "e2", "DELIVRD")], NOW)
    assert await _final(platform, mid) == "DELIVRD"
    await write_reports(platform.engine, [_report(channel, "e1", "UNDELIV")], NOW)
    assert await _final(platform, mid) == "DELIVRD"
    async with platform.engine.connect() as conn:
        parked = (await conn.execute(select(func.count()).select_from(orphan_reports))).scalar()
    assert parked == 0


async def test_segments_accepted_so_far_are_stored_but_do_not_finish_the_message(
    platform: Platform,
) -> None:
    """Segments 1 and 3 accepted, 2 still being retried: their reports do not decide the
    message; once 2 is accepted and reported, they do."""
    account, channel = await _setup(platform)
    mid = "F" * 16
    await _message(platform, account, mid, segments=3)
    partial = Submitted(mid, channel, "1069", ("f1", "f3"), (1, 3), complete=False)
    await write_submits(platform.engine, [(partial, "smpp", LongReport.ALL)], NOW)
    assert await _state(platform, mid) == "submitting"
    async with platform.engine.connect() as conn:
        assert await message_store.accepted_segments(conn, [mid]) == {mid: {1, 3}}
    await write_reports(
        platform.engine,
        [_report(channel, "f1", "DELIVRD"), _report(channel, "f3", "DELIVRD")],
        NOW,
    )
    assert await _final(platform, mid) is None
    rest = Submitted(mid, channel, "1069", ("f2",), (2,), complete=True)
    await write_submits(platform.engine, [(rest, "smpp", LongReport.ALL)], NOW)
    assert await _state(platform, mid) == "submitted"
    await write_reports(platform.engine, [_report(channel, "f2", "DELIVRD")], NOW)
    assert await _final(platform, mid) == "DELIVRD"


async def test_history_events_are_stored_with_the_submits(platform: Platform) -> None:
    account, channel = await _setup(platform)
    mid = "G" * 16
    await _message(platform, account, mid)
    history = [
        message_store.MessageEvent(mid, NOW, EventKind.THROTTLED.value, channel, "SP:0058"),
        message_store.MessageEvent(mid, NOW, EventKind.RETRIED.value, channel, "try 2"),
        message_store.MessageEvent(mid, NOW, EventKind.SUBMITTED.value, channel, "x" * 100),
    ]
    submitted = Submitted(mid, channel, "1069", ("g1",))
    await write_submits(platform.engine, [(submitted, "smpp", LongReport.ALL)], NOW, history)
    async with platform.engine.connect() as conn:
        rows = list(
            await conn.execute(
                select(message_events.c.kind, message_events.c.detail)
                .where(message_events.c.mid == mid)
                .order_by(message_events.c.id)
            )
        )
    assert [r[0] for r in rows] == ["throttled", "retried", "submitted"]
    assert rows[0][1] == "SP:0058" and len(rows[2][1]) == 64
