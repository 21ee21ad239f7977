"""Callback batches on SQLite and on the real PostgreSQL: items claimed by their batch are
not pulled, a due batch is leased to one sender, acknowledged items are handed out for good,
released ones wait for a pull again."""

from __future__ import annotations

from datetime import datetime, timedelta

from duanxin.service import admin
from duanxin.service.platform import Platform
from duanxin.store import callbacks as callback_store
from duanxin.store import inbox
from duanxin.store.inbox import Kind

NOW = datetime(2026, 11, 28, 12, 0, 0)


async def test_a_batch_holds_its_items_until_acknowledged_or_released(platform: Platform) -> None:
    customer = await admin.create_customer(platform, "acme")
    account_id = await admin.create_account(
        platform, customer, admin.AccountSpec("acme", "pw", "922011")
    )
    finals = [
        inbox.FinalReport(account_id, f"{i:016X}", "13800138000", "DELIVRD", "1069", NOW)
        for i in range(5)
    ]
    async with platform.engine.begin() as conn:
        await inbox.finish(conn, finals, mark_messages=False)
        await callback_store.save_callback(
            conn, account_id, {"reports_url": "https://example.com/r", "secret": "whsec_x",
                               "updated_at": NOW},
        )  # fmt: skip
        assert [c.account_id for c in await callback_store.active_callbacks(conn)] == [account_id]
        assert await inbox.count_waiting_up_to(conn, Kind.REPORTS, account_id, NOW, 3) == 3
        batches = []
        for webhook_id in ("msg_a", "msg_b"):
            rows = await inbox.claim(
                conn, Kind.REPORTS, account_id, callback_store.consumer_of(webhook_id), 2,
                NOW, NOW + timedelta(hours=25),
            )  # fmt: skip
            batches.append(
                await callback_store.new_batch(
                    conn, webhook_id=webhook_id, account_id=account_id, kind=Kind.REPORTS,
                    item_ids=[r["id"] for r in rows], body=b"[]",
                    lease_until=NOW + timedelta(seconds=35),
                    give_up_at=NOW + timedelta(hours=24), now=NOW,
                )
            )  # fmt: skip
    first, second = batches
    later = NOW + timedelta(hours=1)
    async with platform.engine.begin() as conn:
        # Only the item no batch holds can be pulled.
        pulled = await inbox.pull_reports(conn, account_id, 100, later)
        assert [r["mid"] for r in pulled] == [finals[4].mid]
        # A due batch is leased: asked again at once, it is not handed out twice.
        due = await callback_store.due_batches(conn, later, later + timedelta(seconds=35), 10)
        assert {b.webhook_id for b in due} == {"msg_a", "msg_b"}
        assert await callback_store.due_batches(conn, later, later, 10) == []
        await callback_store.postpone(conn, first.id, 1, later + timedelta(seconds=5), "HTTP 500")
        assert await callback_store.pending_batches(conn) == 1
        consumer = callback_store.consumer_of
        assert await inbox.ack(conn, Kind.REPORTS, first.item_ids, consumer("msg_a")) == 2
        await callback_store.delete_batch(conn, first.id)
        assert await inbox.release(conn, Kind.REPORTS, second.item_ids, consumer("msg_b")) == 2
        await callback_store.delete_batch(conn, second.id)
    async with platform.engine.begin() as conn:
        again = await inbox.pull_reports(conn, account_id, 100, later)
        assert sorted(r["mid"] for r in again) == sorted(f.mid for f in finals[2:4])
        assert await callback_store.pending_batches(conn) == 0


async def test_push_outcomes_keep_the_newest_per_account_and_kind(platform: Platform) -> None:
    customer = await admin.create_customer(platform, "acme")
    spec = admin.AccountSpec("acme", "pw", "922011")
    mine = await admin.create_account(platform, customer, spec)
    other = await admin.create_account(
        platform, customer, admin.AccountSpec("acme2", "pw", "922012")
    )
    kept = callback_store.PUSH_OUTCOMES_KEPT

    def outcome(i: int, kind: Kind = Kind.REPORTS) -> callback_store.PushOutcome:
        failed = i % 2 == 0
        return callback_store.PushOutcome(
            at=NOW + timedelta(seconds=i),
            kind=kind,
            url="https://example.com/r",
            outcome="failed" if failed else "delivered",
            http_status=None if i % 4 == 0 else (500 if failed else 200),
            error=("ConnectError: refused" if i % 4 == 0 else "HTTP 500") if failed else "",
            items=i,
            duration_ms=i * 3,
            attempt=1,
        )

    async with platform.engine.begin() as conn:
        for i in range(kept + 7):
            await callback_store.record_outcome(conn, mine, outcome(i))
        await callback_store.record_outcome(conn, mine, outcome(1000, Kind.REPLIES))
        await callback_store.record_outcome(conn, other, outcome(1))
    async with platform.engine.connect() as conn:
        found = await callback_store.push_outcomes_of(conn, mine, limit=1000)
        theirs = await callback_store.push_outcomes_of(conn, other)
    # The reply's row stays: the bound is per kind; the oldest 7 reports' rows are gone.
    assert [o.items for o in found] == [1000, *range(kept + 6, 6, -1)]
    assert found[0].kind is Kind.REPLIES and found[1] == outcome(kept + 6)
    assert found[-1] == outcome(7) and found[-2] == outcome(8)
    assert found[-2].http_status is None and found[-2].error == "ConnectError: refused"
    assert [o.items for o in theirs] == [1]
