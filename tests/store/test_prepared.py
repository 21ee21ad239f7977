"""Statements run through the driver (store.prepared), on SQLite and the real PostgreSQL:
they join the transaction they are given (committed with it, rolled back with it), and
times and list parameters mean the same as through SQLAlchemy."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from duanxin.service import admin
from duanxin.service.platform import Platform
from duanxin.store import messages as message_store
from duanxin.store import prepared
from duanxin.store.tables import messages

NOW = datetime(2026, 11, 28, 12, 30, 0, 250)
_NOT_BEFORE = prepared.Sql("UPDATE messages SET not_before = $2 WHERE mid = ANY($1)")
_DUE = prepared.Sql(
    "SELECT mid, not_before FROM messages WHERE not_before = $1 ORDER BY mid", times=(1,)
)
_MOBILES = prepared.Sql("SELECT mobile FROM messages WHERE mid = ANY($1) ORDER BY mobile")


async def _account(platform: Platform) -> int:
    customer = await admin.create_customer(platform, "acme")
    return await admin.create_account(platform, customer, admin.AccountSpec("acme", "pw", "1"))


def _row(mid: str, account_id: int, mobile: str = "13800138000") -> dict[str, object]:
    return {
        "mid": mid,
        "account_id": account_id,
        "mobile": mobile,
        "carrier": "cmcc",
        "content": "【x】hi",
        "segments": 1,
        "charged": 1,
        "state": "queued",
        "created_at": NOW,
    }


async def _stored_mids(platform: Platform) -> list[str]:
    async with platform.engine.connect() as conn:
        return list((await conn.execute(select(messages.c.mid).order_by(messages.c.mid))).scalars())


async def test_writes_commit_and_roll_back_with_the_transaction(platform: Platform) -> None:
    account_id = await _account(platform)
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, [_row("a" * 16, account_id)])
    with pytest.raises(RuntimeError):
        async with platform.engine.begin() as conn:
            await message_store.insert_messages(conn, [_row("b" * 16, account_id)])
            raise RuntimeError("the job fails after its write")
    assert await _stored_mids(platform) == ["a" * 16]

    # On a connection SQLAlchemy has not begun yet: its commit() commits the write.
    async with platform.engine.connect() as conn:
        await message_store.insert_messages(conn, [_row("c" * 16, account_id)])
        await conn.commit()
    async with platform.engine.connect() as conn:
        await message_store.insert_messages(conn, [_row("d" * 16, account_id)])
    assert await _stored_mids(platform) == ["a" * 16, "c" * 16]


async def test_times_and_lists_mean_what_they_mean_through_sqlalchemy(
    platform: Platform,
) -> None:
    account_id = await _account(platform)
    mids = [f"{i:016x}" for i in range(3)]
    async with platform.engine.begin() as conn:
        rows = [_row(mid, account_id, f"1380013800{i}") for i, mid in enumerate(mids)]
        await message_store.insert_messages(conn, rows)
        touched = await prepared.execute(conn, _NOT_BEFORE, mids[:2], NOW)
        assert touched == 2
        assert await prepared.fetch(conn, _MOBILES, []) == []
        found = await prepared.fetch(conn, _MOBILES, [mids[2], "f" * 16])
        assert [tuple(r) for r in found] == [("13800138002",)]

    # A time written here reads back through SQLAlchemy, and one written by SQLAlchemy
    # compares equal here (SQLite keeps times as text: the same text both ways).
    async with platform.engine.connect() as conn:
        stored = await conn.execute(
            select(messages.c.mid, messages.c.not_before).where(messages.c.not_before == NOW)
        )
        assert sorted(stored) == [(mids[0], NOW), (mids[1], NOW)]
        later = NOW + timedelta(minutes=5)
        await conn.execute(
            messages.update().where(messages.c.mid == mids[2]).values(not_before=later)
        )
        due = await prepared.fetch(conn, _DUE, later)
        assert [tuple(r) for r in due] == [(mids[2], later)]


async def test_claim_and_report_matching_through_the_driver(platform: Platform) -> None:
    """The hot delivery statements end to end: claim, submit record, report match."""
    account_id = await _account(platform)
    channel_id = await admin.add_channel(
        platform,
        admin.ChannelSpec("mobile-1", "cmpp", "127.0.0.1", 7890, "sp", "pw", "1069"),
    )
    mid = "0" * 15 + "1"
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, [_row(mid, account_id)])
        claimed = await message_store.claim(conn, [mid, "f" * 16], NOW, node=3)
        assert [(m.mid, m.attempts, m.created_at) for m in claimed] == [(mid, 1, NOW)]
        assert await message_store.claim(conn, [mid], NOW) == []  # taken once only
        submitted = message_store.Submitted(mid, channel_id, "1069", ("c-1",))
        await message_store.record_submits(conn, [submitted], NOW)
        found = await message_store.find_segments(conn, channel_id, ["c-1", "c-2"])
        assert [(s.mid, s.number, s.stat) for s in found] == [(mid, 1, None)]
        await message_store.set_segment_stats(conn, channel_id, [("c-1", "DELIVRD")], NOW)
        assert await message_store.segment_stats(conn, [mid]) == {mid: ["DELIVRD"]}
    async with platform.engine.connect() as conn:
        row = (
            await conn.execute(
                select(messages.c.state, messages.c.channel_id, messages.c.submitted_at)
            )
        ).one()
    assert tuple(row) == ("submitted", channel_id, NOW)


def test_one_text_for_both_backends() -> None:
    sql = prepared.Sql("SELECT mid FROM messages WHERE mid = ANY($2) AND account_id = $1")
    assert sql.postgresql == "SELECT mid FROM messages WHERE mid = ANY($2) AND account_id = $1"
    assert sql.for_sqlite((7, ["a", "b"])) == (
        "SELECT mid FROM messages WHERE mid IN (?, ?) AND account_id = ?",
        ["a", "b", 7],
    )
    assert sql.for_sqlite((7, [])) == (
        "SELECT mid FROM messages WHERE mid IN () AND account_id = ?",
        [7],
    )
    swapped = prepared.Sql("UPDATE t SET a = $2 WHERE b = $1")
    assert swapped.for_sqlite_rows([(1, 2)]) == ("UPDATE t SET a = ? WHERE b = ?", [[2, 1]])
    with pytest.raises(TypeError):
        sql.for_sqlite_rows([(7, ["a"])])
    assert prepared.sqlite_time(datetime(2026, 1, 2, 3, 4, 5)) == "2026-01-02 03:04:05.000000"
