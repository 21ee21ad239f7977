"""Store queries on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.billing import ChargeType
from duanxin.domain.policy import TemplateKind
from duanxin.service import admin
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store
from duanxin.store import idempotency as idempotency_store
from duanxin.store import inbox, prepared
from duanxin.store import messages as message_store
from duanxin.store import numbers as number_store
from duanxin.store.commits import Later, Refusal
from duanxin.store.engine import migrate
from duanxin.store.tables import accounts, ledger, messages

NOW = datetime(2026, 11, 28, 12, 0, 0)


async def _account(platform: Platform, charge_type: ChargeType, balance: int) -> int:
    customer = await admin.create_customer(platform, "acme")
    return await admin.create_account(
        platform,
        customer,
        admin.AccountSpec("acme", "pw", "922011", charge_type=charge_type, balance=balance),
    )


def _message(mid: str, account_id: int, state: str = "queued") -> dict[str, object]:
    return {
        "mid": mid,
        "account_id": account_id,
        "mobile": "13800138000",
        "carrier": "cmcc",
        "content": "【x】hi",
        "extno": "",
        "segments": 1,
        "charged": 1,
        "state": state,
        "not_before": None,
        "stat": None,
        "created_at": NOW,
        "done_at": None,
    }


async def test_migrations_are_repeatable(platform: Platform, database_url: str) -> None:
    await asyncio.to_thread(migrate, database_url)  # a second run changes nothing


async def test_prepaid_charge_refuses_what_the_balance_cannot_cover(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.PRECHARGE, 5)
    async with platform.engine.begin() as conn:
        charges = account_store.BatchCharges()
        assert await charges.take(conn, account_id, 6) is None
        assert await charges.take(conn, account_id, 5) == 0
        taken = account_store.SendCharge(account_id, 5, "r2", NOW)
        await account_store.write_charges(conn, [taken])
        rows = await conn.execute(select(func.count()).select_from(ledger))
        assert rows.scalar_one() == 1  # only the charge that happened
        balance = await conn.execute(select(accounts.c.balance).where(accounts.c.id == account_id))
        assert balance.scalar_one() == 0


async def test_postpaid_balance_may_go_negative(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    async with platform.engine.begin() as conn:
        assert await account_store.BatchCharges().take(conn, account_id, 3) == -3
        taken = account_store.SendCharge(account_id, 3, "r1", NOW)
        await account_store.write_charges(conn, [taken])
        balance = await conn.execute(select(accounts.c.balance).where(accounts.c.id == account_id))
        assert balance.scalar_one() == -3


TAKEN = "F" * 16  # a mid stored already: a send inserting it again fails mid-write


async def test_a_batchs_charges_are_those_of_its_sends_one_after_another(
    platform: Platform,
) -> None:
    """Sends charged together in one group-commit batch (each account's balance read once,
    written once): each send gets the balance after its own charge, a prepaid one that
    its balance no longer covers is refused, one failing mid-write is taken back with
    its charge, and the ledger has a row per charge with the balance after it."""
    prepaid = await _account(platform, ChargeType.PRECHARGE, 5)
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, [_message(TAKEN, prepaid)])
    customer = await admin.create_customer(platform, "other")
    postpaid = await admin.create_account(
        platform,
        customer,
        admin.AccountSpec("other", "pw", "922012", charge_type=ChargeType.POSTCHARGE),
    )

    def send(account_id: int, cost: int, reference: str, *, fail: bool = False) -> Awaitable[int]:
        async def job(conn: AsyncConnection) -> int:
            charges = platform.commits.shared(account_store.BatchCharges)
            balance = await charges.take(conn, account_id, cost)
            if balance is None:
                raise Refusal(ValueError("balance insufficient"))
            if fail:
                await message_store.insert_messages(conn, [_message(TAKEN, account_id)])
            return balance

        charge = account_store.SendCharge(account_id, cost, reference, NOW)
        return platform.commits.run(job, later=[Later(account_store.write_charges, charge)])

    outcomes = await asyncio.gather(
        send(prepaid, 2, "p1"),
        send(postpaid, 4, "q1"),
        send(prepaid, 1, "p2", fail=True),
        send(prepaid, 2, "p3"),
        send(prepaid, 2, "p4"),  # 5 - 2 - 2 leaves 1
        send(postpaid, 3, "q2"),
        send(prepaid, 1, "p5"),
        return_exceptions=True,
    )
    assert [outcomes[i] for i in (0, 1, 3, 5, 6)] == [3, -4, 1, -7, 0]
    assert isinstance(outcomes[4], ValueError)  # refused
    assert isinstance(outcomes[2], Exception) and not isinstance(outcomes[2], ValueError)
    async with platform.engine.connect() as conn:
        balances = dict((await conn.execute(select(accounts.c.id, accounts.c.balance))).all())
        kept = (
            await conn.execute(
                select(ledger.c.reference, ledger.c.delta, ledger.c.balance_after).order_by(
                    ledger.c.id
                )
            )
        ).all()
    assert balances == {prepaid: 0, postpaid: -7}
    assert sorted(map(tuple, kept)) == [
        ("p1", -2, 3), ("p3", -2, 1), ("p5", -1, 0), ("q1", -4, -4), ("q2", -3, -7),
    ]  # fmt: skip


async def test_a_message_is_claimed_once(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, [_message("A" * 16, account_id)])
    async with platform.engine.begin() as conn:
        first = await message_store.claim(conn, ["A" * 16])
    async with platform.engine.begin() as conn:
        second = await message_store.claim(conn, ["A" * 16])
    assert [m.mid for m in first] == ["A" * 16] and second == []
    async with platform.engine.begin() as conn:
        assert await message_store.reset_claimed(conn) == 1
        assert [m.mid for m in await message_store.claim(conn, ["A" * 16])] == ["A" * 16]


async def test_due_messages_are_leased_so_they_are_handed_out_once(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, [_message("B" * 16, account_id)])
    later = NOW + timedelta(minutes=1)
    async with platform.engine.begin() as conn:
        leased = await message_store.lease_due(
            conn, later, created_before=later, lease_until=later + timedelta(seconds=30), limit=10
        )
        again = await message_store.lease_due(
            conn, later, created_before=later, lease_until=later + timedelta(seconds=30), limit=10
        )
    assert leased == ["B" * 16] and again == []


async def test_report_before_submit_is_parked_then_taken(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    channel = await admin.add_channel(
        platform, admin.ChannelSpec("c1", "cmpp", "127.0.0.1", 1, "901234", "s", "1069")
    )
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, [_message("C" * 16, account_id)])
        orphan = message_store.OrphanReport("abc", "13800138000", "DELIVRD", NOW)
        await message_store.park_orphans(conn, channel, [orphan])
        taken = await message_store.take_orphans(conn, channel, ["abc"])
        assert [o.stat for o in taken] == ["DELIVRD"]
        assert await message_store.take_orphans(conn, channel, ["abc"]) == []


async def test_reports_are_pulled_once_oldest_first(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    finals = [
        inbox.FinalReport(account_id, f"{i:016X}", "13800138000", "DELIVRD", "1069", NOW)
        for i in range(15)
    ]
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, [_message(f.mid, account_id) for f in finals])
        await inbox.finish(conn, finals)
        await inbox.finish(conn, finals[:3])  # a second final report for a mid is ignored
    async with platform.engine.begin() as conn:
        first = await inbox.pull_reports(conn, account_id, 10, NOW)
    async with platform.engine.begin() as conn:
        rest = await inbox.pull_reports(conn, account_id, 10, NOW)
    async with platform.engine.begin() as conn:
        none = await inbox.pull_reports(conn, account_id, 10, NOW)
    assert [r["mid"] for r in first + rest] == [f.mid for f in finals]
    assert none == []


async def _finished_reports(platform: Platform, account_id: int, count: int) -> list[str]:
    finals = [
        inbox.FinalReport(account_id, f"{i:016X}", "13800138000", "DELIVRD", "1069", NOW)
        for i in range(count)
    ]
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, [_message(f.mid, account_id) for f in finals])
        await inbox.finish(conn, finals)
    return [f.mid for f in finals]


async def test_claimed_items_are_not_pulled_until_released(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    mids = await _finished_reports(platform, account_id, 4)
    until = NOW + timedelta(seconds=30)
    async with platform.engine.begin() as conn:
        held = await inbox.claim(conn, inbox.Kind.REPORTS, account_id, "push", 3, NOW, until)
        other = await inbox.claim(conn, inbox.Kind.REPORTS, account_id, "cmpp:1", 10, NOW, until)
        pulled = await inbox.pull_reports(conn, account_id, 10, NOW)
    assert [r["mid"] for r in held] == mids[:3]
    assert [r["mid"] for r in other] == mids[3:]
    assert pulled == []
    async with platform.engine.begin() as conn:
        assert await inbox.release(conn, inbox.Kind.REPORTS, [held[0]["id"]], "push") == 1
        assert await inbox.release(conn, inbox.Kind.REPORTS, [held[1]["id"]], "cmpp:1") == 0
        assert await inbox.count_waiting(conn, inbox.Kind.REPORTS, account_id, NOW) == 1
        again = await inbox.pull_reports(conn, account_id, 10, NOW)
    assert [r["mid"] for r in again] == mids[:1]


async def test_claimed_reports_carry_what_a_delivery_needs(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    async with platform.engine.begin() as conn:
        assert not await inbox.any_waiting(conn, account_id, NOW)
    mids = await _finished_reports(platform, account_id, 2)
    until = NOW + timedelta(seconds=30)
    async with platform.engine.begin() as conn:
        assert await inbox.any_waiting(conn, account_id, NOW)
        held = await inbox.claim(conn, inbox.Kind.REPORTS, account_id, "cmpp:1", 10, NOW, until)
        assert not await inbox.any_waiting(conn, account_id, NOW)  # held: nothing waits
        assert await inbox.any_waiting(conn, account_id, until)  # unless the claim ran out
    spid = await _spid(platform, account_id)
    assert [(r["mid"], r["spid"], r["stat"], r["reported_at"]) for r in held] == [
        (mid, spid, "DELIVRD", NOW) for mid in mids
    ]


async def _spid(platform: Platform, account_id: int) -> str:
    async with platform.engine.connect() as conn:
        found = await conn.execute(select(accounts.c.spid).where(accounts.c.id == account_id))
        return str(found.scalar_one())


async def test_acknowledged_items_are_handed_out_for_good(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    mids = await _finished_reports(platform, account_id, 2)
    until = NOW + timedelta(seconds=30)
    async with platform.engine.begin() as conn:
        held = await inbox.claim(conn, inbox.Kind.REPORTS, account_id, "push", 10, NOW, until)
        ids = [r["id"] for r in held]
        assert await inbox.ack(conn, inbox.Kind.REPORTS, ids, "someone-else") == 0
        assert await inbox.ack(conn, inbox.Kind.REPORTS, ids, "push") == 2
    after = until + timedelta(seconds=1)
    async with platform.engine.begin() as conn:
        assert await inbox.pull_reports(conn, account_id, 10, after) == []
        assert await inbox.release(conn, inbox.Kind.REPORTS, None, "push") == 0
    assert [r["mid"] for r in held] == mids


async def test_a_claim_nobody_answers_ends_by_itself(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    mids = await _finished_reports(platform, account_id, 2)
    until = NOW + timedelta(seconds=30)
    async with platform.engine.begin() as conn:
        await inbox.claim(conn, inbox.Kind.REPORTS, account_id, "smpp:7", 10, NOW, until)
        assert await inbox.pull_reports(conn, account_id, 10, until - timedelta(seconds=1)) == []
        late = await inbox.pull_reports(conn, account_id, 10, until)
        # The consumer that lost its claim cannot hand the items out a second time.
        assert await inbox.ack(conn, inbox.Kind.REPORTS, [r["id"] for r in late], "smpp:7") == 0
    assert [r["mid"] for r in late] == mids


async def test_a_claim_whose_lease_ran_out_goes_back_to_the_queue(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, [_message("E" * 16, account_id)])
        claimed = await message_store.claim(conn, ["E" * 16], NOW + timedelta(minutes=10))
        assert [m.mid for m in claimed] == ["E" * 16]
        assert await message_store.release_stale_claims(conn, NOW + timedelta(minutes=5)) == 0
        assert await message_store.release_stale_claims(conn, NOW + timedelta(minutes=11)) == 1
        again = await message_store.claim(conn, ["E" * 16], NOW + timedelta(minutes=20))
    assert [m.attempts for m in again] == [2]


async def _due_now(platform: Platform, when: datetime) -> list[str]:
    async with platform.engine.begin() as conn:
        return await message_store.lease_due(
            conn, when, created_before=when, lease_until=when + timedelta(seconds=30), limit=10
        )


async def test_claims_given_back_after_a_restart_are_due_at_once(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, [_message("F" * 16, account_id)])
        await message_store.claim(conn, ["F" * 16], NOW + timedelta(minutes=10))
        assert await message_store.reset_claimed(conn) == 1
    # Not after the ten-minute claim lease: at the next look.
    assert await _due_now(platform, NOW + timedelta(seconds=1)) == ["F" * 16]


async def test_a_stopping_worker_gives_back_only_claims_still_held(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    held, recorded, other = "1" * 16, "2" * 16, "3" * 16
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(
            conn, [_message(m, account_id) for m in (held, recorded, other)]
        )
        await message_store.claim(conn, [held, recorded, other], NOW + timedelta(minutes=10))
        await conn.execute(
            update(messages).where(messages.c.mid == recorded).values(state="submitted")
        )
        released = await message_store.release_claims(conn, [held, recorded])
    assert released == [held]
    assert await _due_now(platform, NOW + timedelta(seconds=1)) == [held]  # other: still held


async def test_leases_of_an_unpublished_batch_are_undone(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    async with platform.engine.begin() as conn:
        await message_store.insert_messages(conn, [_message("4" * 16, account_id)])
    when = NOW + timedelta(minutes=1)
    assert await _due_now(platform, when) == ["4" * 16]
    assert await _due_now(platform, when) == []  # leased
    async with platform.engine.begin() as conn:
        wrong = await message_store.release_leases(conn, ["4" * 16], when)
        undone = await message_store.release_leases(conn, ["4" * 16], when + timedelta(seconds=30))
    assert (wrong, undone) == (0, 1)
    assert await _due_now(platform, when) == ["4" * 16]


async def test_an_accounts_default_kind_is_stored_and_cleared(platform: Platform) -> None:
    customer = await admin.create_customer(platform, "kinds")
    spec = admin.AccountSpec("kinds", "pw", "922011", default_kind=TemplateKind.MARKETING)
    account_id = await admin.create_account(platform, customer, spec)
    async with platform.engine.connect() as conn:
        found = await account_store.get_account_by_id(conn, account_id)
    assert found is not None and found.default_kind is TemplateKind.MARKETING
    changed = await admin.set_account(platform, "kinds", {"default_kind": "verification"})
    assert changed.default_kind is TemplateKind.VERIFICATION
    cleared = await admin.set_account(platform, "kinds", {"default_kind": None})
    assert cleared.default_kind is None
    with pytest.raises(ValueError, match="default_kind"):
        await admin.set_account(platform, "kinds", {"default_kind": "spam"})


async def test_operator_tokens_and_accounts_are_found_through_the_service(
    platform: Platform,
) -> None:
    token = await admin.create_operator_token(platform, "alice")
    assert await admin.operator_for_token(platform, token) == "alice"
    assert await admin.operator_for_token(platform, token + "x") is None
    await _account(platform, ChargeType.PRECHARGE, 10)
    assert [a.account for a in await admin.list_accounts(platform)] == ["acme"]
    assert (await admin.find_account(platform, "acme")).balance == 10
    with pytest.raises(LookupError, match="no account 'nobody'"):
        await admin.find_account(platform, "nobody")


async def test_an_idempotent_answer_is_kept_found_and_expired(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    answer = idempotency_store.StoredAnswer("f" * 64, b'{"status":"0"}')
    async with platform.engine.begin() as conn:
        await idempotency_store.keep(conn, account_id, "k1", answer, NOW, since=NOW)
        assert await idempotency_store.find(conn, account_id, "k1", NOW) == answer
        assert await idempotency_store.find(conn, account_id, "k2", NOW) is None
        later = NOW + timedelta(hours=1)
        assert await idempotency_store.find(conn, account_id, "k1", later) is None  # too old
        again = idempotency_store.StoredAnswer("e" * 64, b'{"status":"1"}')
        await idempotency_store.keep(conn, account_id, "k1", again, later, since=later)
        assert await idempotency_store.find(conn, account_id, "k1", later) == again
        assert await idempotency_store.expire(conn, later + timedelta(seconds=1)) == 1
        assert await idempotency_store.find(conn, account_id, "k1", NOW) is None


async def test_a_key_kept_meanwhile_by_another_request_is_refused_not_replaced(
    platform: Platform,
) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    first = idempotency_store.StoredAnswer("f" * 64, b'{"status":"0"}')
    second = idempotency_store.StoredAnswer("e" * 64, b'{"status":"0","other":1}')
    async with platform.engine.begin() as conn:
        await idempotency_store.keep(conn, account_id, "k1", first, NOW, since=NOW)
    with pytest.raises(idempotency_store.KeyTaken):
        async with platform.engine.begin() as conn:
            await idempotency_store.keep(conn, account_id, "k1", second, NOW, since=NOW)
    async with platform.engine.connect() as conn:
        assert await idempotency_store.find(conn, account_id, "k1", NOW) == first


async def test_the_kept_reader_sees_each_commit_and_reads_only(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    answer = idempotency_store.StoredAnswer("f" * 64, b'{"status":"0"}')
    reads = platform.lone_reads
    assert await idempotency_store.find(reads, account_id, "k1", NOW) is None
    async with platform.engine.begin() as conn:
        await idempotency_store.keep(conn, account_id, "k1", answer, NOW, since=NOW)
    assert await idempotency_store.find(reads, account_id, "k1", NOW) == answer
    async with platform.engine.begin() as conn:
        assert await idempotency_store.expire(conn, NOW + timedelta(seconds=1)) == 1
    assert await idempotency_store.find(reads, account_id, "k1", NOW) is None
    with pytest.raises(ValueError, match="only reads"):
        await reads.fetch(prepared.Sql("DELETE FROM idempotency"))


async def test_number_overrides_are_set_read_and_forgotten(platform: Platform) -> None:
    async with platform.engine.begin() as conn:
        assert not await number_store.any_overrides(conn)
        await number_store.set_override(conn, "13800138000", "ctcc")
        await number_store.set_override(conn, "13800138000", "cucc")  # replaces
        assert await number_store.any_overrides(conn)
        found = await number_store.carrier_overrides(conn, ["13800138000", "13900139000"])
        assert found == {"13800138000": "cucc"}
        await number_store.set_override(conn, "13800138000", None)
        assert not await number_store.any_overrides(conn)


async def test_routed_carriers_are_those_with_an_enabled_channel(platform: Platform) -> None:
    account_id = await _account(platform, ChargeType.POSTCHARGE, 0)
    spec = admin.ChannelSpec("c1", "cmpp", "127.0.0.1", 7890, "901234", "pw", "1069")
    await admin.add_channel(platform, spec)
    await admin.add_route(platform, "acme", "cmcc", ["c1"])
    async with platform.engine.connect() as conn:
        assert await account_store.routed_carriers(conn, account_id) == {"cmcc"}
    await admin.set_channel_enabled(platform, "c1", False)
    async with platform.engine.connect() as conn:
        assert await account_store.routed_carriers(conn, account_id) == frozenset()
