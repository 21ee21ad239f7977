"""Free text gets a kind: limits and the marketing window apply without templates (issue 7 §5).

Through the real HTTP API and the demo stack; the clock is the platform's, set by the test.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from duanxin.store.tables import messages
from tests.conftest import Stack
from tests.e2e.helpers import (
    MOBILE,
    UNICOM,
    add_account,
    answer,
    assert_send_ok,
    collect_reports,
    post,
    send_form,
)
from tests.e2e.policy.common import Clock, operator, tomorrow_at

FREE_CODE = "【duanxin】登录验证码：731942，5分钟内有效，请勿泄露。"  # no template matches it
FREE_SALE = "【duanxin】会员日全场满199减30，领券再享9折"
NOTICE = "【duanxin】您的订单12345678已发货，请注意查收。"


async def _results(stack: Stack, account: dict[str, str], mobiles: str, content: str) -> list[int]:
    data = {**account, "mobile": mobiles, "content": content}
    items = assert_send_ok(answer(await post(stack, "/smssend", data=data)))
    return [int(item["result"]) for item in items]


async def _state(stack: Stack, mid: str) -> tuple[str, object]:
    async with stack.running.platform.engine.connect() as conn:
        row = (
            await conn.execute(
                select(messages.c.state, messages.c.not_before).where(messages.c.mid == mid)
            )
        ).one()
    return row.state, row.not_before


async def test_a_free_text_code_twice_within_a_minute_is_refused_the_second_time(
    stack: Stack,
) -> None:
    clock = Clock(stack, tomorrow_at(9))
    first = await send_form(stack, {"mobile": f"{MOBILE},{UNICOM}", "content": FREE_CODE})
    assert [i["result"] for i in assert_send_ok(first)] == [0, 0]
    clock.advance(20)
    second = assert_send_ok(
        await send_form(stack, {"mobile": f"{MOBILE},13900139001", "content": FREE_CODE})
    )
    assert [i["result"] for i in second] == [5, 0]  # the fresh number still gets its code
    refused = second[0]["mid"]
    reports = await collect_reports(stack, [refused])
    assert reports[refused][0]["stat"] == "DX:0005"
    # A notification to the same number is no verification code: not limited by the minute.
    notice = assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": NOTICE}))
    assert notice[0]["result"] == 0
    clock.advance(40)  # a minute after the first code
    third = assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": FREE_CODE}))
    assert third[0]["result"] == 0


async def test_free_text_marketing_outside_the_window_is_held_until_it_opens(
    stack: Stack,
) -> None:
    clock = Clock(stack, tomorrow_at(23, 30))
    held = assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": FREE_SALE}))
    assert held[0]["result"] == 0
    notice = assert_send_ok(await send_form(stack, {"mobile": UNICOM, "content": NOTICE}))
    await collect_reports(stack, [notice[0]["mid"]])  # the notification goes out at night
    state, not_before = await _state(stack, held[0]["mid"])
    assert (state, not_before) == ("queued", tomorrow_at(8) + timedelta(days=1))
    assert [m.text for m in stack.simulators["cmpp"].behaviour.received] == []  # UNICOM: sgip
    clock.now = tomorrow_at(8, 0) + timedelta(days=1, seconds=1)  # the window opens
    reports = await collect_reports(stack, [held[0]["mid"]])
    assert reports[held[0]["mid"]][0]["stat"] == "DELIVRD"
    assert [m.text for m in stack.simulators["cmpp"].behaviour.received] == [FREE_SALE]


async def test_the_accounts_default_kind_decides_for_text_matching_no_template(
    stack: Stack,
) -> None:
    other = await add_account(stack, "kinds")
    clock = Clock(stack, tomorrow_at(23))
    async with await operator(stack) as client:
        bad = await client.patch("/admin/accounts/kinds", json={"default_kind": "spam"})
        assert bad.status_code == 422 and "default_kind" in bad.json()["msg"]
        changed = await client.patch("/admin/accounts/kinds", json={"default_kind": "marketing"})
        assert changed.status_code == 200 and changed.json()["default_kind"] == "marketing"
        # Declared marketing: even a text the classifier calls a notification is held at night.
        data = {**other, "mobile": MOBILE, "content": NOTICE}
        (item,) = assert_send_ok(answer(await post(stack, "/smssend", data=data)))
        assert item["result"] == 0
        state, not_before = await _state(stack, item["mid"])
        assert (state, not_before) == ("queued", tomorrow_at(8) + timedelta(days=1))
        # Declared verification: an ordinary text counts against the per-minute limit.
        await client.patch("/admin/accounts/kinds", json={"default_kind": "verification"})
        clock.advance(3600)
        assert await _results(stack, other, UNICOM, "【duanxin】你好") == [0]
        assert await _results(stack, other, f"{UNICOM},13900139002", "【duanxin】你好") == [5, 0]
        # Back to the classifier: null.
        cleared = await client.patch("/admin/accounts/kinds", json={"default_kind": None})
        assert cleared.json()["default_kind"] is None
        clock.advance(10)
        assert await _results(stack, other, UNICOM, "【duanxin】你好") == [0]
        created = await client.post(
            "/admin/accounts",
            json={
                "account": "kinds2",
                "password": "pw123456",
                "customer": "acme",
                "default_kind": "notification",
            },
        )
        assert created.status_code == 200
        shown = (await client.get("/admin/accounts/kinds2")).json()
        assert shown["default_kind"] == "notification"
