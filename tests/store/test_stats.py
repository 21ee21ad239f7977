"""Statistics counters on SQLite and on the real PostgreSQL: upserts that add, moves from
one channel's cell to another's, final reports with their delay histogram."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from sqlalchemy import update

from duanxin.service import admin
from duanxin.service.platform import Platform
from duanxin.store import messages as message_store
from duanxin.store import stats as stats_store
from duanxin.store.tables import messages

NOW = datetime(2026, 11, 28, 12, 30, 0)


def _row(mid: str, account_id: int, stat: str | None = None) -> dict[str, object]:
    return {
        "mid": mid,
        "account_id": account_id,
        "mobile": "13800138000",
        "carrier": "cmcc",
        "content": "【x】hi",
        "extno": "",
        "segments": 2,
        "charged": 0 if stat else 2,
        "state": "done" if stat else "queued",
        "not_before": None,
        "stat": stat,
        "created_at": NOW,
    }


async def test_counters_follow_messages(platform: Platform) -> None:
    customer = await admin.create_customer(platform, "acme")
    account_id = await admin.create_account(
        platform, customer, admin.AccountSpec("acme", "pw", "922011")
    )
    channel_id = await admin.add_channel(
        platform,
        admin.ChannelSpec(
            name="c1", protocol="cmpp", host="127.0.0.1", port=7890, account="a",
            password="p", access_code="1069",
        ),
    )  # fmt: skip
    rows = [_row(f"{i:016X}", account_id) for i in range(3)] + [
        _row("00000000000000FF", account_id, "DX:0005")
    ]
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, rows)
        await stats_store.count_sent(conn, rows)

    # Two concurrent transactions adding to the same cells.
    async def add_more(start: int) -> None:
        extra = [_row(f"{start + i:016X}", account_id) for i in range(2)]
        async with platform.engine.begin() as conn:
            await message_store.insert_messages(conn, extra)
            await stats_store.count_sent(conn, extra)

    await asyncio.gather(add_more(100), add_more(200))
    submitted = {f"{i:016X}": channel_id for i in range(3)}
    async with platform.engine.begin() as conn:
        await stats_store.count_submitted(conn, submitted)
        await conn.execute(
            update(messages)
            .where(messages.c.mid.in_(list(submitted)))
            .values(channel_id=channel_id, state="submitted", submitted_at=NOW)
        )
        await stats_store.count_submitted(conn, submitted)  # a late copy: moves nothing
        finished = [
            stats_store.Finished(account_id, "cmcc", channel_id, NOW, NOW, "DELIVRD",
                                 NOW + timedelta(seconds=4)),
            stats_store.Finished(account_id, "cmcc", channel_id, NOW, NOW, "UNDELIV",
                                 NOW + timedelta(seconds=40), refunded=2),
        ]  # fmt: skip
        await stats_store.count_finished(conn, finished)
    async with platform.engine.connect() as conn:
        lines = await stats_store.totals(
            conn, "h", NOW - timedelta(hours=1), NOW + timedelta(hours=1), by=["channel"]
        )
        fails = await stats_store.failures(
            conn, "d", NOW - timedelta(days=1), NOW, account_id=account_id
        )
    by_channel = {line.channel_id: line.counters for line in lines}
    assert by_channel[0]["submitted"] == 5 and by_channel[0]["billed"] == 8
    assert by_channel[0]["failed"] == 1
    on = by_channel[channel_id]
    assert (on["submitted"], on["billed"], on["delivered"], on["failed"]) == (3, 6, 1, 1)
    assert on["refunded"] == 2
    assert on["d3"] == 1 and on["d7"] == 1  # 4 s: up to 5 s; 40 s: up to 60 s
    day = NOW.replace(hour=0, minute=0)
    assert fails == {(day,): {"DX:0005": 1, "UNDELIV": 1}}
