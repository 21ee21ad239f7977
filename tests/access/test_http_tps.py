"""The account TPS limit is the same for HTTP: over it, /smssend answers status 21."""

from __future__ import annotations

from duanxin.service import admin
from tests.conftest import Stack
from tests.e2e.helpers import assert_list_failure, assert_send_ok, send_form


async def test_smssend_over_the_tps_limit_is_21(stack: Stack) -> None:
    platform = stack.running.platform
    now = [100.0]
    platform.monotonic = lambda: now[0]
    await admin.set_account(platform, stack.facts.account, {"tps": 1})
    content = {"content": "您的订单已发货"}
    assert_send_ok(await send_form(stack, {"mobile": "13800138061", **content}))
    refused = await send_form(stack, {"mobile": "13800138062", **content})
    assert_list_failure(refused, 21)
    assert "1 messages/s" in refused["msg"]
    now[0] += 1.0  # a second later: a token is back
    assert_send_ok(await send_form(stack, {"mobile": "13800138063", **content}))
