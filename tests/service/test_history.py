"""Message lookup and the ledger, through the customer and operator endpoints and the CLI,
on the real platform."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

import httpx
from click.testing import Result
from typer.testing import CliRunner

from duanxin.cli import app
from duanxin.service import admin
from duanxin.simulator.core import SimulatorConfig
from duanxin.simulator.faults import parse_faults
from tests.conftest import Stack
from tests.delivery.test_flow_control import CMCC, cmpp_stack, final_stats, send
from tests.e2e.helpers import answer, credentials, post

LONG = "长" * 150  # three UCS-2 segments


async def cli(*args: str) -> Result:
    """Run a ``duanxin`` command (in a thread: it runs its own event loop)."""
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))


async def operator_get(stack: Stack, path: str, **params: str) -> httpx.Response:
    token = await admin.create_operator_token(stack.running.platform, "tests")
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        return await client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})


async def test_lookup_shows_every_step_of_a_long_message_retried_once(tmp_path: Path) -> None:
    configs = [SimulatorConfig(faults=parse_faults("refuse-segment:2"))]
    async with cmpp_stack(tmp_path, configs, settings={"retry_backoff": 0.01}) as stack:
        (mid,) = await send(stack, CMCC[:1], LONG)
        assert (await final_stats(stack, [mid]))[mid] == "DELIVRD"
        data = {**credentials(stack), "mid": mid}
        found = answer(await post(stack, "/customer/messages", data=data))
        assert found["status"] == 0, found
        (message,) = found["list"]
        # Accepted: by which front door, which key, when; what it costs.
        assert message["mid"] == mid and message["mobile"] == CMCC[0]
        assert message["via"] == "http" and message["key_id"] == stack.facts.secret_id
        assert message["segments"] == 3 and message["charged"] == 3
        assert message["accepted_at"] and message["submitted_at"]
        # Each segment's submit: channel and carrier id, each with its own report.
        submits = message["submits"]
        assert sorted(s["number"] for s in submits) == [1, 2, 3]
        assert {s["channel"] for s in submits} == {"demo-cmpp"}
        assert all(s["carrier_id"] and s["stat"] == "DELIVRD" for s in submits)
        assert all(s["reported_at"] and s["carrier_time"] for s in submits)  # arrival, carrier
        # The retry: segment 2 throttled, sent again, then all accepted.
        kinds = [e["kind"] for e in message["events"]]
        assert kinds[0] == "throttled" and "retried" in kinds and kinds[-1] == "submitted"
        assert all(e["channel"] == "demo-cmpp" for e in message["events"])
        # The report, and the charge (the demo account is not refunded).
        assert message["report_stat"] == "DELIVRD" and message["report_at"]
        assert message["report_handed_out"] is True  # final_stats pulled it
        assert message["charge"]["delta"] == -3 and message["charge"]["reason"] == "send"
        assert message["refund"] is None
        # The operator sees the same, by mid and by account + time range.
        by_mid = await operator_get(stack, f"/admin/messages/{mid}")
        assert by_mid.status_code == 200 and by_mid.json()["events"] == message["events"]
        listed = await operator_get(
            stack, "/admin/messages", account=stack.facts.account, since="2000-01-01"
        )
        assert [m["mid"] for m in listed.json()] == [mid]
        by_mobile = answer(
            await post(stack, "/customer/messages", data={**credentials(stack), "mobile": CMCC[0]})
        )
        assert [m["mid"] for m in by_mobile["list"]] == [mid]
        # Another account's mid is not this customer's to see.
        missing = answer(
            await post(stack, "/customer/messages", data={**credentials(stack), "mid": "0" * 16})
        )
        assert missing["list"] == []
        unknown = await operator_get(stack, "/admin/messages/0000000000000000")
        assert unknown.status_code == 404
        url = stack.running.platform.settings.database_url
        shown = await cli("message", "show", mid, "--database-url", url)
        assert shown.exit_code == 0, shown.output
        assert "throttled" in shown.output and "demo-cmpp" in shown.output


async def test_ledger_pages_with_running_balance(stack: Stack) -> None:
    platform = stack.running.platform
    await admin.recharge(platform, stack.facts.account, 1000, "tests", "top-up")
    for i in range(3):
        data = {
            **credentials(stack),
            "mobile": f"1380013800{i},1390013900{i}",
            "content": "您的验证码是 1234",
        }
        assert answer(await post(stack, "/smssend", data=data))["status"] == "0"
    first = answer(await post(stack, "/customer/ledger", data={**credentials(stack), "limit": "2"}))
    assert first["status"] == 0, first
    assert [e["delta"] for e in first["list"]] == [-2, -2]
    assert first["list"][0]["balance_after"] == 1000 - 6
    assert first["list"][0]["id"] > first["list"][1]["id"]
    rest = answer(
        await post(
            stack,
            "/customer/ledger",
            data={**credentials(stack), "before": str(first["next_before"])},
        )
    )
    assert [(e["delta"], e["reason"]) for e in rest["list"]] == [(-2, "send"), (1000, "recharge")]
    assert rest["next_before"] is None
    # Each balance_after is the previous one plus the change: a running balance.
    entries = list(reversed(first["list"] + rest["list"]))
    for before, after in itertools.pairwise(entries):
        assert after["balance_after"] == before["balance_after"] + after["delta"]
    bad = answer(await post(stack, "/customer/ledger", data={**credentials(stack), "limit": "x"}))
    assert bad["status"] == 1 and bad["msg"]
    url = platform.settings.database_url
    shown = await cli("ledger", stack.facts.account, "--json", "--database-url", url)
    assert shown.exit_code == 0, shown.output
    assert "recharge" in shown.output
