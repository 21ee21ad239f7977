"""Balance and billing (SPEC 2.4, 2.5, 2.8): one unit per segment per number, the
signature counted; prepaid accounts refused when short; refunds of failed messages."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from sqlalchemy import func, select

from duanxin.domain.billing import ChargeType
from duanxin.service import admin
from duanxin.store.tables import ledger, stats
from tests.conftest import Stack
from tests.e2e.helpers import (
    MOBILE,
    TELECOM,
    UNICOM,
    add_account,
    answer,
    approve_signature,
    assert_list_failure,
    assert_send_ok,
    balance,
    collect_reports,
    count_rows,
    credentials,
    post,
    send_form,
    store_counts,
)

SIGNATURE = "【duanxin】"  # the demo account's default signature: 9 characters, not ASCII


async def overage(
    stack: Stack, account: dict[str, str] | None = None, **fields: str
) -> dict[str, Any]:
    data = {**(account or credentials(stack)), "action": "balance", **fields}
    return answer(await post(stack, "/smsoverage", data=data))


async def test_balance_shape_and_charge_type(stack: Stack) -> None:
    body = await overage(stack)
    assert body == {"status": 0, "balance": 0, "chargeType": "POSTCHARGE", "msg": "ok"}
    await admin.recharge(stack.running.platform, stack.facts.account, 1234)
    await admin.set_account(
        stack.running.platform, stack.facts.account, {"charge_type": "PRECHARGE"}
    )
    body = await overage(stack)
    assert body == {"status": 0, "balance": 1234, "chargeType": "PRECHARGE", "msg": "ok"}


async def test_ucs2_segments_count_the_signature(stack: Stack) -> None:
    """70 UCS-2 characters in one message, 67 per segment beyond: signature included."""
    cases = [
        ("长" * 61, 1),  # 61 + 9 = 70
        ("长" * 62, 2),  # 71
        ("长" * 125, 2),  # 134 = 2 x 67
        ("长" * 126, 3),  # 135
        ("a" * 61, 1),  # the signature makes even ASCII text UCS-2
        ("a" * 62, 2),
        ("x" * 150, 3),  # 159 UCS-2 units, not one 160-character ASCII message
    ]
    spent = 0
    for content, segments in cases:
        assert (await overage(stack, content=content))["segments"] == segments, content
        sent = await send_form(stack, {"mobile": MOBILE, "content": content})
        assert_send_ok(sent)
        spent += segments
        assert sent["balance"] == -spent, content
    assert (await overage(stack))["balance"] == -spent


async def test_content_already_signed_is_not_signed_twice(stack: Stack) -> None:
    content = "【自有签名】" + "长" * 64  # 70 characters with its own signature
    await approve_signature(stack, "【自有签名】")
    assert (await overage(stack, content=content))["segments"] == 1
    sent = await send_form(stack, {"mobile": MOBILE, "content": content})
    assert sent["balance"] == -1
    await collect_reports(stack, [sent["list"][0]["mid"]])
    (received,) = stack.simulators["cmpp"].behaviour.received
    assert received.text == content


async def test_ascii_rules_for_an_account_without_default_signature(stack: Stack) -> None:
    """Without a default signature, /smsoverage counts the content as it is: 160 ASCII
    characters in one message, 153 per segment beyond."""
    plain = await add_account(stack, "plain", default_signature="")
    for content, segments in (("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3)):
        assert (await overage(stack, plain, content=content))["segments"] == segments
    # Sending needs a signature: unsigned content is refused, nothing written.
    counts = await store_counts(stack)
    data = {**plain, "mobile": MOBILE, "content": "a" * 20}
    body = answer(await post(stack, "/smssend", data=data))
    assert body["status"] != "0" and body["list"] is None
    assert await store_counts(stack) == counts


async def test_per_number_charge_and_refused_numbers_are_free(stack: Stack) -> None:
    fields = {"mobile": f"{MOBILE},{UNICOM},{TELECOM},123,{MOBILE}", "content": "长" * 62}
    sent = await send_form(stack, fields)
    items = assert_send_ok(sent)
    assert [i["result"] for i in items] == [0, 0, 0, 1]
    assert sent["balance"] == -2 * 3
    assert (await overage(stack))["balance"] == -6


async def test_prepaid_short_balance_is_5_and_charges_nothing(stack: Stack) -> None:
    platform = stack.running.platform
    await admin.set_account(platform, stack.facts.account, {"charge_type": ChargeType.PRECHARGE})
    await admin.recharge(platform, stack.facts.account, 5)
    counts = await store_counts(stack)
    fields = {"mobile": f"{MOBILE},{UNICOM},{TELECOM}", "content": "长" * 62}  # costs 6
    assert_list_failure(await send_form(stack, fields), 5)
    assert await store_counts(stack) == counts
    assert await balance(stack) == 5
    assert all(not s.behaviour.received for s in stack.simulators.values())
    # What the balance covers exactly goes through, down to zero; then 5 again.
    fields["mobile"] = f"{MOBILE},{UNICOM}"
    sent = await send_form(stack, fields)
    assert_send_ok(sent)
    assert sent["balance"] == 1
    assert_send_ok(await send_form(stack, {"mobile": TELECOM, "content": "短"}))
    assert await balance(stack) == 0
    assert_list_failure(await send_form(stack, {"mobile": TELECOM, "content": "短"}), 5)
    assert await balance(stack) == 0


async def test_a_send_refused_for_balance_counts_against_no_frequency_limit(
    stack: Stack,
) -> None:
    """Verification codes go to a number once a minute; a refused request sent nothing."""
    platform = stack.running.platform
    await admin.set_account(platform, stack.facts.account, {"charge_type": ChargeType.PRECHARGE})
    fields = {"mobile": f"{MOBILE},{UNICOM}", "content": "您的验证码是1234"}
    assert_list_failure(await send_form(stack, fields), 5)
    await admin.recharge(platform, stack.facts.account, 2)
    sent = assert_send_ok(await send_form(stack, fields))
    assert [item["result"] for item in sent] == [0, 0]  # not "too frequent"
    again = await send_form(stack, fields)  # now the minute's send is counted
    assert_list_failure(again, 5)
    assert "rate-limited" in again["msg"]


async def test_postcharge_may_go_negative(stack: Stack) -> None:
    sent = await send_form(stack, {"mobile": MOBILE, "content": "通知"})
    assert sent["balance"] == -1


def _fail_everything(stack: Stack) -> None:
    for simulator in stack.simulators.values():
        behaviour = simulator.behaviour
        behaviour.config = dataclasses.replace(
            behaviour.config, fail_ratio=1.0, failure_stats=("UNDELIV",)
        )


async def test_failed_messages_are_refunded_when_the_account_says_so(stack: Stack) -> None:
    refunded = await add_account(stack, "refunded", refund_on_failure=True, balance=100,
                                 charge_type=ChargeType.PRECHARGE)  # fmt: skip
    _fail_everything(stack)
    content = "长" * 130  # 3 segments
    data = {**refunded, "mobile": f"{MOBILE},{UNICOM},{TELECOM}", "content": content}
    sent = answer(await post(stack, "/smssend", data=data))
    items = assert_send_ok(sent)
    assert sent["balance"] == 100 - 9
    reports = await collect_reports(stack, [i["mid"] for i in items], account=refunded)
    assert "DELIVRD" not in {r[0]["stat"] for r in reports.values()}  # SGIP: ER:nnnn
    assert (await overage(stack, refunded))["balance"] == 100


async def test_no_refund_without_the_flag(stack: Stack) -> None:
    _fail_everything(stack)
    sent = await send_form(stack, {"mobile": f"{MOBILE},{UNICOM}", "content": "通知"})
    items = assert_send_ok(sent)
    reports = await collect_reports(stack, [i["mid"] for i in items])
    assert "DELIVRD" not in {r[0]["stat"] for r in reports.values()}  # SGIP: ER:nnnn
    assert await balance(stack) == -2


async def test_delivered_messages_are_not_refunded(stack: Stack) -> None:
    refunded = await add_account(stack, "refunded", refund_on_failure=True)
    data = {**refunded, "mobile": MOBILE, "content": "通知"}
    items = assert_send_ok(answer(await post(stack, "/smssend", data=data)))
    reports = await collect_reports(stack, [items[0]["mid"]], account=refunded)
    assert reports[items[0]["mid"]][0]["stat"] == "DELIVRD"
    assert (await overage(stack, refunded))["balance"] == -1


async def test_concurrent_sends_on_a_short_balance_each_answered_and_counted_once(
    stack: Stack,
) -> None:
    """Sends that share a commit batch: those the balance covers are accepted, each with
    its own balance, the rest refused with 5; ledger and counters hold exactly the
    accepted ones (the batch counts them in one go)."""
    platform = stack.running.platform
    await admin.set_account(platform, stack.facts.account, {"charge_type": ChargeType.PRECHARGE})
    await admin.recharge(platform, stack.facts.account, 3)
    ledger_rows = await count_rows(stack, ledger)
    mobiles = [f"1390000{i:04d}" for i in range(8)]
    answers = await asyncio.gather(
        *(send_form(stack, {"mobile": mobile, "content": "短"}) for mobile in mobiles)
    )
    accepted = [a for a in answers if a["status"] == "0"]
    assert sorted(a["balance"] for a in accepted) == [0, 1, 2]
    for refused in (a for a in answers if a["status"] != "0"):
        assert_list_failure(refused, 5)
    assert await count_rows(stack, ledger) == ledger_rows + 3
    async with platform.engine.connect() as conn:
        after = (await conn.execute(select(ledger.c.balance_after).where(ledger.c.delta < 0))).all()
        assert sorted(balance for (balance,) in after) == [0, 1, 2]
        submitted, billed = (
            await conn.execute(
                select(func.sum(stats.c.submitted), func.sum(stats.c.billed)).where(
                    stats.c.grain == "d"
                )
            )
        ).one()
    assert (submitted, billed) == (3, 3)
