"""Statistics kept as messages move, checked against a brute-force count of the same
messages after a mixed load: delivered, failed by the carrier, refused at once, pending
(scheduled), long messages, refunds; through the service, the endpoints and the CLI."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from duanxin.cli import app
from duanxin.domain.billing import ChargeType
from duanxin.service import admin, lists
from duanxin.service.stats import Grain, statistics
from duanxin.simulator.core import SimulatorConfig
from duanxin.store.tables import accounts, channels, ledger, messages
from tests.conftest import TEST_REPORT_DELAY, Stack, wait_until
from tests.e2e.helpers import add_account, answer, credentials, in_future, post, send_form

CODE = "您的验证码是 1234"
LONG = "您的验证码是 1234。" + "请在五分钟内完成验证，切勿告诉他人。" * 4  # > 70 chars: 2 segments


@pytest.fixture
async def failing_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The demo platform whose carriers fail about a third of the messages."""
    from duanxin.demo import demo_stack

    like = SimulatorConfig(fail_ratio=0.35, seed=3)
    async with demo_stack(
        "127.0.0.1", 0, tmp_path, report_delay=TEST_REPORT_DELAY, simulators_like=like
    ) as (facts, running, simulators):
        yield Stack(facts, running, simulators)


def numbers(prefix: str, count: int, start: int = 0) -> list[str]:
    return [f"{prefix}{start + i:08d}" for i in range(count)]


async def sent(stack: Stack, fields: dict[str, str]) -> list[str]:
    result = await send_form(stack, fields)
    assert result["status"] == "0", result
    return [item["mid"] for item in result["list"]]


async def brute_force(stack: Stack) -> dict[tuple[Any, ...], dict[str, Any]]:
    """The counters computed from the messages and ledger tables directly."""
    async with stack.running.platform.engine.connect() as conn:
        names = dict((await conn.execute(select(accounts.c.id, accounts.c.account))).all())
        chans = dict((await conn.execute(select(channels.c.id, channels.c.name))).all())
        refunds = {
            reference: delta
            for reference, delta in await conn.execute(
                select(ledger.c.reference, ledger.c.delta).where(ledger.c.reason == "refund")
            )
        }
        rows = (await conn.execute(select(messages))).mappings().all()
    cells: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(
        lambda: {
            "submitted": 0,
            "delivered": 0,
            "failed": 0,
            "billed": 0,
            "refunded": 0,
            "failed_by_stat": Counter(),
        }
    )
    for row in rows:
        period = row["created_at"].replace(minute=0, second=0, microsecond=0)
        channel = chans.get(row["channel_id"], "") if row["channel_id"] else ""
        cell = cells[(period, row["carrier"], channel, names[row["account_id"]])]
        cell["submitted"] += 1
        cell["billed"] += row["charged"]
        cell["refunded"] += refunds.get(row["mid"], 0)
        if row["state"] == "done":
            if row["stat"] == "DELIVRD":
                cell["delivered"] += 1
            else:
                cell["failed"] += 1
                cell["failed_by_stat"][row["stat"]] += 1
    return dict(cells)


async def test_statistics_match_a_brute_force_count(failing_stack: Stack) -> None:
    stack = failing_stack
    platform = stack.running.platform
    refunded = await add_account(
        stack, "refunds", charge_type=ChargeType.PRECHARGE, balance=10_000, refund_on_failure=True
    )
    await lists.blacklist_add(platform, ["13700000001"], "tests")
    pending = [
        *await sent(
            stack,
            {
                "mobile": ",".join(numbers("138", 5, 500)),
                "content": CODE,
                "sendtime": in_future(3600),
            },
        ),
    ]
    done = [
        *await sent(stack, {"mobile": ",".join(numbers("138", 30)), "content": CODE}),
        *await sent(stack, {"mobile": ",".join(numbers("186", 10)), "content": LONG}),
        *await sent(stack, {"mobile": ",".join(numbers("189", 10)), "content": CODE}),
        # refused at once: invalid, blacklisted
        *await sent(
            stack, {"mobile": "12345,13700000001," + numbers("139", 1)[0], "content": CODE}
        ),
        *await sent(
            stack,
            {**refunded, "mobile": ",".join(numbers("138", 20, 100)), "content": LONG},
        ),
    ]

    async def finished() -> bool:
        async with platform.engine.connect() as conn:
            query = select(messages.c.state).where(messages.c.mid.in_(done))
            return {s for (s,) in await conn.execute(query)} == {"done"}

    await wait_until(finished, timeout=30)
    expected = await brute_force(stack)
    assert sum(c["failed"] for c in expected.values()) > 5  # the load is mixed indeed
    assert any(c["refunded"] for c in expected.values())
    assert sum(c["submitted"] - c["delivered"] - c["failed"] for c in expected.values()) == len(
        pending
    )

    lines = await statistics(platform, grain=Grain.HOUR, by=("carrier", "channel", "account"))
    got = {
        (line.period, line.carrier, line.channel, line.account): {
            "submitted": line.submitted,
            "delivered": line.delivered,
            "failed": line.failed,
            "billed": line.billed,
            "refunded": line.refunded,
            "failed_by_stat": Counter(line.failed_by_stat),
        }
        for line in lines
        if line.submitted or line.delivered or line.failed
    }
    assert got == expected
    for line in lines:
        assert line.pending == line.submitted - line.delivered - line.failed
        if line.channel:  # reported by a carrier: a delay was measured
            assert line.delay_p50 is not None and line.delay_p95 is not None
            assert line.delay_p50 <= line.delay_p95

    # Per day and account only: the same totals, summed.
    days = await statistics(platform, grain=Grain.DAY, by=("account",))
    for name in ("demo", "refunds"):
        mine = [c for k, c in expected.items() if k[3] == name]
        daily = [d for d in days if d.account == name]
        for counter in ("submitted", "delivered", "failed", "billed", "refunded"):
            assert sum(getattr(d, counter) for d in daily) == sum(c[counter] for c in mine)

    # The customer's view: its own account only, by carrier.
    data = {**credentials(stack), "grain": "hour", "by": "carrier"}
    customer = answer(await post(stack, "/customer/stats", data=data))
    assert customer["status"] == 0, customer
    # (an invalid number has no carrier: "")
    assert {item["carrier"] for item in customer["list"]} == {"cmcc", "cucc", "ctcc", ""}
    assert "channel" not in customer["list"][0] and "account" not in customer["list"][0]
    demo_total = sum(c["submitted"] for k, c in expected.items() if k[3] == "demo")
    assert sum(item["submitted"] for item in customer["list"]) == demo_total
    refused = answer(await post(stack, "/customer/stats", data={**data, "by": "account"}))
    assert refused["status"] == 1

    token = await admin.create_operator_token(platform, "tests")
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        operator = await client.get(
            "/admin/stats",
            params={"grain": "day", "by": "channel,account"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert operator.status_code == 200
    assert sum(item["submitted"] for item in operator.json()) == sum(
        c["submitted"] for c in expected.values()
    )
    url = platform.settings.database_url
    shown = await cli("stats", "--by", "carrier", "--json", "--database-url", url)
    assert shown.exit_code == 0, shown.output
    assert "cmcc" in shown.output and "DX:0005" in shown.output


async def cli(*args: str) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, list(args))
