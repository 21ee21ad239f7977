"""Frequency limits and the marketing window through /smssend, on the injected clock."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

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
from tests.e2e.policy.common import Clock, approved_template, operator, tomorrow_at

VERIFY = "您的验证码是${code}，5分钟内有效"
CODE = "【duanxin】您的验证码是4821，5分钟内有效"
_fresh = count()


def fresh() -> str:
    """A number never used before in the test: accepted, so the request itself succeeds."""
    return f"1390013{next(_fresh):04d}"


async def _results(
    stack: Stack, number: str, content: str = CODE, account: dict[str, str] | None = None
) -> tuple[int, str]:
    """Send to ``number`` and a fresh one; the result and mid of ``number``."""
    data = {"mobile": f"{number},{fresh()}", "content": content}
    if account is None:
        sent = await send_form(stack, data)
    else:
        sent = answer(await post(stack, "/smssend", data={**account, **data}))
    items = assert_send_ok(sent)
    assert items[1]["result"] == 0
    return int(items[0]["result"]), str(items[0]["mid"])


async def test_verification_codes_per_minute_hour_and_day(stack: Stack) -> None:
    await approved_template(stack, "verification", VERIFY)
    clock = Clock(stack, tomorrow_at(9))
    refused: list[str] = []
    # 1 per minute.
    assert (await _results(stack, MOBILE))[0] == 0
    clock.advance(30)
    result, mid = await _results(stack, MOBILE)
    assert result == 5
    refused.append(mid)
    clock.advance(30)
    assert (await _results(stack, MOBILE))[0] == 0  # 60 s after the first
    # 5 per hour: hits at 0, 60, 120, 180, 240 s; the sixth within the hour is refused.
    for _ in range(3):
        clock.advance(60)
        assert (await _results(stack, MOBILE))[0] == 0
    clock.advance(60)
    result, mid = await _results(stack, MOBILE)
    assert result == 5
    refused.append(mid)
    clock.advance(3600 - 300)  # the first hit leaves the hour
    assert (await _results(stack, MOBILE))[0] == 0
    # 10 per day: every 15 minutes stays within 1/min and 5/hour.
    clock.advance(86400)
    for _ in range(10):
        assert (await _results(stack, UNICOM))[0] == 0
        clock.advance(15 * 60)
    result, mid = await _results(stack, UNICOM)
    assert result == 5
    refused.append(mid)
    clock.advance(86400)
    assert (await _results(stack, UNICOM))[0] == 0
    # Each refused number got its final report.
    reports = await collect_reports(stack, refused)
    assert all(reports[mid][0]["stat"] == "DX:0005" for mid in refused)


async def test_forty_a_day_per_number_across_the_platform(stack: Stack) -> None:
    other = await add_account(stack, "other")
    clock = Clock(stack, tomorrow_at(10))
    for n in range(40):  # notifications have no limit of their own; only the platform's
        account = other if n % 2 else None
        assert (await _results(stack, MOBILE, "【duanxin】通知", account))[0] == 0
        clock.advance(1)
    assert (await _results(stack, MOBILE, "【duanxin】通知", other))[0] == 5
    assert (await _results(stack, MOBILE, "【duanxin】通知"))[0] == 5
    clock.advance(86400)
    assert (await _results(stack, MOBILE, "【duanxin】通知"))[0] == 0


async def test_operator_overrides_an_accounts_limits(stack: Stack) -> None:
    await approved_template(stack, "verification", VERIFY)
    Clock(stack, tomorrow_at(11))
    async with await operator(stack) as client:
        changed = await client.put("/admin/frequency/demo", json={"verification": "2/min"})
        assert changed.status_code == 200
        assert changed.json()["verification"] == {
            "limits": "2/min",
            "pairs": [[2, 60.0]],
            "overridden": True,
        }
        assert (await _results(stack, MOBILE))[0] == 0
        assert (await _results(stack, MOBILE))[0] == 0
        assert (await _results(stack, MOBILE))[0] == 5
        bad = await client.put("/admin/frequency/demo", json={"verification": "often"})
        assert bad.status_code == 422
        back = await client.put("/admin/frequency/demo", json={"verification": None})
        assert back.json()["verification"] == {
            "limits": "1/min, 5/hour, 10/day",
            "pairs": [[1, 60.0], [5, 3600.0], [10, 86400.0]],
            "overridden": False,
        }
        shown = (await client.get("/admin/frequency/demo")).json()
        assert shown["platform"]["limits"] == "40/day"


async def test_marketing_outside_the_window_is_held_until_it_opens(stack: Stack) -> None:
    await approved_template(stack, "marketing", "年货节{1}，回T退订")
    clock = Clock(stack, tomorrow_at(23, 30))
    held = await send_form(
        stack, {"mobile": MOBILE, "content": "【duanxin】年货节满百减十，回T退订"}
    )
    (item,) = assert_send_ok(held)
    assert item["result"] == 0
    notice = assert_send_ok(
        await send_form(stack, {"mobile": UNICOM, "content": "【duanxin】通知"})
    )
    await collect_reports(stack, [notice[0]["mid"]])  # other content goes out at night
    async with stack.running.platform.engine.connect() as conn:
        row = (
            await conn.execute(
                select(messages.c.state, messages.c.not_before).where(messages.c.mid == item["mid"])
            )
        ).one()
    assert row.state == "queued"
    assert row.not_before == tomorrow_at(8) + timedelta(days=1)  # the next morning, 08:00
    assert stack.simulators["cmpp"].behaviour.received == []
    clock.now = row.not_before.replace(second=1)  # the window opens: the sweeper sends it
    reports = await collect_reports(stack, [item["mid"]])
    assert reports[item["mid"]][0]["stat"] == "DELIVRD"
    assert [m.text for m in stack.simulators["cmpp"].behaviour.received] == [
        "【duanxin】年货节满百减十，回T退订"
    ]
