"""Queries of the policy tables, on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from duanxin.domain.policy import WordEntry
from duanxin.service import admin
from duanxin.service.platform import Platform
from duanxin.store import policy as store
from duanxin.store.policy import ReviewState
from duanxin.store.tables import signatures, templates

NOW = datetime(2026, 11, 28, 12, 0, 0)


async def _account(platform: Platform, name: str = "acme") -> int:
    customer = await admin.create_customer(platform, f"customer-{name}")
    return await admin.create_account(platform, customer, admin.AccountSpec(name, "pw", "922011"))


async def test_signatures_and_templates_review(platform: Platform) -> None:
    account_id = await _account(platform)
    async with platform.engine.begin() as conn:
        first = await store.add_signature(conn, account_id, "【甲公司】", NOW)
        second = await store.add_signature(conn, account_id, "【乙公司】", NOW)
        template = await store.add_template(conn, account_id, "verification", "码${code}", NOW)
        assert await store.approved_signatures(conn, account_id) == []
        assert await store.decide(conn, signatures, second, ReviewState.APPROVED, "", "bob", NOW)
        assert await store.decide(conn, templates, template, ReviewState.APPROVED, "", "bob", NOW)
        assert not await store.decide(conn, signatures, 999, ReviewState.APPROVED, "", "bob", NOW)
        assert await store.decide(
            conn, signatures, first, ReviewState.REJECTED, "unclear", "bob", NOW
        )
    async with platform.engine.connect() as conn:
        assert await store.approved_signatures(conn, account_id) == ["【乙公司】"]
        assert await store.approved_templates(conn, account_id) == [
            (template, "verification", "码${code}")
        ]
        row = await store.get_review(conn, signatures, first)
        assert row is not None
        assert (row["account"], row["state"], row["reason"], row["decided_by"]) == (
            "acme",
            "rejected",
            "unclear",
            "bob",
        )
        found = await store.find_signature(conn, account_id, "【甲公司】")
        assert found is not None and found["id"] == first
        pending = await store.list_reviews(conn, signatures, state=ReviewState.REJECTED)
        assert [r["id"] for r in pending] == [first]
        assert len(await store.list_reviews(conn, templates, account_id=account_id)) == 1


async def test_blacklist_and_opt_outs(platform: Platform) -> None:
    account_id = await _account(platform)
    other = await _account(platform, "other")
    numbers = [f"138{i:08d}" for i in range(1200)]  # more than one IN chunk
    async with platform.engine.begin() as conn:
        assert await store.add_blacklist(conn, numbers, "complaint", NOW) == 1200
        assert await store.add_blacklist(conn, [numbers[0], "13900000000"], "", NOW) == 1
        await store.add_optouts(conn, account_id, ["18600000000", "18600000000"], NOW)
        await store.add_optouts(conn, account_id, ["18600000000"], NOW)  # again: no error
    async with platform.engine.connect() as conn:
        asked = [numbers[5], numbers[1100], "13700000000"]
        assert await store.blacklisted(conn, asked) == {numbers[5], numbers[1100]}
        assert await store.opted_out(conn, account_id, ["18600000000", "18600000001"]) == {
            "18600000000"
        }
        assert await store.opted_out(conn, other, ["18600000000"]) == set()
        total, page = await store.list_blacklist(conn, limit=2, offset=1)
        assert total == 1201 and [r["mobile"] for r in page] == numbers[1:3]
        assert [r["mobile"] for r in await store.list_optouts(conn, account_id)] == ["18600000000"]
    async with platform.engine.begin() as conn:
        assert await store.remove_blacklist(conn, [numbers[5], "13700000000"]) == 1
        assert await store.remove_optouts(conn, account_id, ["18600000000"]) == 1
    async with platform.engine.connect() as conn:
        assert await store.blacklisted(conn, [numbers[5]]) == set()
        assert await store.opted_out(conn, account_id, ["18600000000"]) == set()


async def test_words_upsert_remove_and_categories(platform: Platform) -> None:
    entries = [WordEntry("发票", "fraud"), WordEntry("赌博", "gambling"), WordEntry("发票", "tax")]
    async with platform.engine.begin() as conn:
        assert await store.upsert_words(conn, entries, NOW) == 2
        assert await store.upsert_words(conn, [WordEntry("赌博", "gambling")], NOW) == 0
    async with platform.engine.connect() as conn:
        listed = {(e.word, e.category) for e in await store.list_words(conn)}
        assert listed == {("发票", "tax"), ("赌博", "gambling")}  # the last entry wins
        assert await store.word_categories(conn) == {"gambling": 1, "tax": 1}
    async with platform.engine.begin() as conn:
        assert await store.remove_words(conn, ["发票", "不在"]) == 1
    async with platform.engine.connect() as conn:
        assert [e.word for e in await store.list_words(conn)] == ["赌博"]


async def test_frequency_overrides_and_audit(platform: Platform) -> None:
    account_id = await _account(platform)
    async with platform.engine.begin() as conn:
        await store.set_frequency(conn, account_id, "verification", ((2, 60.0), (8, 3600.0)))
        await store.set_frequency(conn, account_id, "platform", ())
        await store.set_frequency(conn, account_id, "verification", ((3, 60.0),))
    async with platform.engine.connect() as conn:
        assert await store.frequency_overrides(conn, account_id) == {
            "verification": ((3, 60.0),),
            "platform": (),
        }
    async with platform.engine.begin() as conn:
        await store.set_frequency(conn, account_id, "platform", None)
    async with platform.engine.connect() as conn:
        assert await store.frequency_overrides(conn, account_id) == {"verification": ((3, 60.0),)}
        rows = await store.list_audit(conn, action="account.", limit=10)
        assert [(r["actor"], r["action"], r["subject"]) for r in rows] == [
            ("operator", "account.create", "acme")
        ]
        assert await store.list_audit(conn, actor="nobody") == []
        assert await store.list_audit(conn, action="account_") == []  # a prefix, not a pattern
