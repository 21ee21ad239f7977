"""The dashboard's figures and the message search, counted from the store (SQLite and
PostgreSQL): today's tallies by carrier and channel, the per-minute rates of the last hour,
the report delay, a message's history, and searches kept to one account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from duanxin.config import Settings
from duanxin.service import admin, message_search, overview
from duanxin.service.message_search import MessageQuery
from duanxin.service.platform import Platform
from duanxin.store import messages as message_store
from duanxin.store.engine import migrate
from duanxin.store.messages import MessageEvent
from tests.conftest import Stack

NOW = datetime(2026, 12, 1, 10, 30, 20)


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Platform]:
    await asyncio.to_thread(migrate, database_url)
    platform = Platform.open(Settings(database_url=database_url))
    platform.clock = lambda: NOW
    try:
        yield platform
    finally:
        await platform.close()


def _row(
    mid: str, account_id: int, carrier: str, state: str, **values: object
) -> dict[str, object]:
    row: dict[str, object] = {
        "mid": mid,
        "account_id": account_id,
        "mobile": "13800138000",
        "carrier": carrier,
        "content": "【x】hi",
        "extno": "",
        "segments": 1,
        "charged": 1,
        "state": state,
        "not_before": None,
        "stat": None,
        "created_at": NOW - timedelta(minutes=2),
        "done_at": None,
        "channel_id": None,
        "submitted_at": None,
    }
    row.update(values)
    return row


async def _setup(platform: Platform) -> tuple[int, int]:
    customer = await admin.create_customer(platform, "acme")
    acme = await admin.create_account(platform, customer, admin.AccountSpec("acme", "pw", "1"))
    other = await admin.create_account(platform, customer, admin.AccountSpec("other", "pw", "1"))
    channel = await admin.add_channel(
        platform,
        admin.ChannelSpec("mobile-1", "cmpp", "127.0.0.1", 7890, "sp", "pw", "1069"),
    )
    sent = NOW - timedelta(minutes=1, seconds=10)
    done = {"state": "done", "channel_id": channel, "submitted_at": sent}
    rows = [
        _row(
            "0" * 15 + "1",
            acme,
            "cmcc",
            **done,
            stat="DELIVRD",
            done_at=sent + timedelta(seconds=2),
        ),
        _row(
            "0" * 15 + "2",
            acme,
            "cmcc",
            **done,
            stat="UNDELIV",
            done_at=sent + timedelta(seconds=4),
        ),
        _row("0" * 15 + "3", acme, "cmcc", "submitted", channel_id=channel, submitted_at=sent),
        _row("0" * 15 + "4", other, "cucc", "queued"),
        _row("0" * 15 + "5", acme, "cmcc", "queued", created_at=NOW - timedelta(days=1)),
    ]
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, rows)
        await message_store.insert_events(
            conn,
            [MessageEvent("0" * 15 + "2", sent - timedelta(seconds=1), "throttled", channel, "8")],
        )
    return acme, other


async def test_todays_tallies_rates_and_report_delay(platform: Platform) -> None:
    await _setup(platform)
    board = await overview.dashboard(platform)
    assert board.total == overview.Tally(submitted=4, delivered=1, failed=1, pending=2)
    assert board.total.delivery_rate == 0.5
    assert dict(board.by_carrier) == {
        "cmcc": overview.Tally(3, 1, 1, 1),
        "cucc": overview.Tally(1, 0, 0, 1),
    }
    assert dict(board.by_channel) == {
        None: overview.Tally(1, 0, 0, 1),
        "mobile-1": overview.Tally(3, 1, 1, 1),
    }
    assert board.report_delay_seconds == 3.0 and board.report_delay_sample == 2
    assert len(board.minutes) == 60 and board.minutes[-1] == "10:30"
    assert board.accepted_tps[-3] == 4 / 60  # 10:28: four accepted today
    assert board.submitted_tps[-2] == 3 / 60  # 10:29: three handed to the carrier
    assert sum(board.accepted_tps) == 4 / 60
    assert [e.kind for e in board.errors] == ["throttled"]
    health = await overview.health(platform)
    assert health.database_error is None and health.bus_error is None
    assert [(c.name, c.live) for c in health.channels] == [("mobile-1", None)]


async def test_search_and_history_keep_to_the_given_account(platform: Platform) -> None:
    acme, other = await _setup(platform)
    everything = await message_search.find_messages(platform, MessageQuery())
    assert len(everything) == 5
    by_account = await message_search.find_messages(platform, MessageQuery(account="other"))
    assert [m.mid for m in by_account] == ["0" * 15 + "4"]
    # A customer's search ignores the account it names: it sees its own messages only.
    own = await message_search.find_messages(
        platform, MessageQuery(account="acme"), account_id=other
    )
    assert [m.mid for m in own] == ["0" * 15 + "4"]
    since = await message_search.find_messages(
        platform, MessageQuery(since=NOW - timedelta(hours=1)), account_id=acme
    )
    assert len(since) == 3
    history = await message_search.message_history(platform, "0" * 15 + "2")
    assert history is not None
    assert [line.kind for line in history.lines] == [
        "accepted",
        "throttled",
        "submitted",
        "reported",
    ]
    assert history.lines[-1].detail == "UNDELIV"
    assert await message_search.message_history(platform, "0" * 15 + "2", account_id=other) is None
    with pytest.raises(ValueError, match="16 hex"):
        await message_search.find_messages(platform, MessageQuery(mid="nope"))
    with pytest.raises(LookupError):
        await message_search.find_messages(platform, MessageQuery(account="nobody"))


async def test_health_shows_each_channel_live_from_the_delivery_worker(stack: Stack) -> None:
    platform = stack.running.platform

    async def all_up() -> bool:
        health = await overview.health(platform)
        return all(c.live is not None and c.live.up for c in health.channels)

    await stack.wait_for(all_up)
    health = await overview.health(platform)
    assert health.delivery_here and health.database_error is None and health.bus_error is None
    assert {c.name for c in health.channels} == {"demo-cmpp", "demo-sgip", "demo-smgp"}
    for channel in health.channels:
        assert channel.live is not None
        assert (channel.live.connections_up, channel.live.connections) == (1, 1)
        assert channel.live.in_flight == 0 and not channel.live.throttling
        assert channel.live.rate is None  # no TPS configured, no throttling seen
