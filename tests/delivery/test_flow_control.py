"""Flow control is back-pressure, never failure (issue 7, section 1).

Every test runs the real platform (HTTP API, delivery worker, SQLite) in front of CMPP
simulators over loopback TCP: throttling carriers, paused ones whose answers come late,
links dropped with submits in the window, and what the platform makes of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update

from duanxin.config import Settings
from duanxin.demo import SPID, CarrierEndpoint, DemoFacts, demo_credentials, demo_stack, provision
from duanxin.runtime import running_platform
from duanxin.service import admin
from duanxin.service.platform import Platform
from duanxin.simulator.cmpp import CmppSimulator
from duanxin.simulator.core import SimulatorConfig, SimulatorServer
from duanxin.simulator.faults import parse_faults
from duanxin.store.engine import migrate
from duanxin.store.tables import channels, message_events, orphan_reports, segments
from tests.conftest import TEST_REPORT_DELAY, Stack
from tests.e2e.helpers import assert_send_ok, collect_reports, pull_reports, send_form

CMCC = [f"1380013{i:04d}" for i in range(10)]


@contextlib.asynccontextmanager
async def cmpp_stack(
    tmp_path: Path,
    simulators: Sequence[SimulatorConfig],
    *,
    tps: int = 0,
    settings: Mapping[str, Any] | None = None,
) -> AsyncIterator[Stack]:
    """The platform with one CMPP channel per simulator, routed for China Mobile in order.

    ``tps`` and ``settings`` are each channel's configured TPS and channel settings.
    """
    url = f"sqlite+aiosqlite:///{tmp_path / 'duanxin.db'}"
    await asyncio.to_thread(migrate, url)
    account, password = demo_credentials("cmpp")
    started: list[SimulatorServer] = []
    try:
        for config in simulators:
            simulator = CmppSimulator(
                dataclasses.replace(
                    config, account=account, password=password, report_delay=TEST_REPORT_DELAY
                )
            )
            await simulator.start()
            started.append(simulator)
        setup = Platform.open(Settings(database_url=url))
        try:
            first = CarrierEndpoint("127.0.0.1", started[0].port, account, password)
            key, login, secret = await provision(setup, {"cmpp": first})
            names = ["demo-cmpp"]
            for index, simulator in enumerate(started[1:], start=2):
                name = f"cmpp-{index}"
                await admin.add_channel(
                    setup,
                    admin.ChannelSpec(
                        name=name,
                        protocol="cmpp",
                        host="127.0.0.1",
                        port=simulator.port,
                        account=account,
                        password=password,
                        access_code="106901234",
                        service_id="DEMO",
                        sp_code=SPID,
                    ),
                )
                names.append(name)
            await admin.add_route(setup, login, "cmcc", names)
            async with setup.engine.begin() as conn:
                await conn.execute(
                    update(channels).values(
                        tps=tps, settings={"response_timeout": 10.0, **(settings or {})}
                    )
                )
        finally:
            await setup.close()
        platform_settings = Settings(database_url=url, host="127.0.0.1", port=0)
        async with running_platform(platform_settings) as running:
            assert running.worker is not None
            for channel in running.worker.pool.channels.values():
                for client in channel.clients:
                    assert await client.wait_up(5)  # type: ignore[attr-defined]
            facts = DemoFacts(
                url=running.url,
                secret_id=key.secret_id,
                secret_key=key.secret_key,
                account=login,
                password=secret,
                spid=SPID,
                access_code="106901234",
                simulators={},
            )
            yield Stack(facts, running, {f"cmpp-{i + 1}": s for i, s in enumerate(started)})
    finally:
        for simulator in started:
            await simulator.stop()


def sim(stack: Stack, number: int = 1) -> CmppSimulator:
    simulator = stack.simulators[f"cmpp-{number}"]
    assert isinstance(simulator, CmppSimulator)
    return simulator


async def send(
    stack: Stack, mobiles: Sequence[str], content: str = "您的验证码是1234"
) -> list[str]:
    items = assert_send_ok(
        await send_form(stack, {"mobile": ",".join(mobiles), "content": content})
    )
    assert all(i["result"] == 0 for i in items), items
    return [i["mid"] for i in items]


async def final_stats(stack: Stack, mids: Sequence[str]) -> dict[str, str]:
    """Each mid's report, checking that there is exactly one."""
    reports = await collect_reports(stack, mids)
    assert all(len(reports[m]) == 1 for m in mids), reports
    return {m: reports[m][0]["stat"] for m in mids}


async def events(stack: Stack) -> Counter[str]:
    async with stack.running.platform.engine.connect() as conn:
        rows = await conn.execute(select(message_events.c.kind))
        return Counter(row[0] for row in rows)


async def count(stack: Stack, table: Any) -> int:
    async with stack.running.platform.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())


async def metric(stack: Stack, name: str, channel: str = "demo-cmpp") -> float:
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        text = (await client.get("/metrics")).text
    for line in text.splitlines():
        if line.startswith(f'{name}{{channel="{channel}"}}'):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} for {channel} not in /metrics")


async def test_a_carrier_at_one_tps_gets_all_five_numbers_one_a_second(tmp_path: Path) -> None:
    """The issue's headline: five numbers in one request, a 1 TPS carrier, a channel set
    for 100 TPS; today four end DX:0100."""
    async with cmpp_stack(tmp_path, [SimulatorConfig(tps=1)], tps=100) as stack:
        throttled_before = await metric(stack, "duanxin_submits_throttled_total")
        retried_before = await metric(stack, "duanxin_submits_retried_total")
        mids = await send(stack, CMCC[:5])
        stats = await final_stats(stack, mids)
        assert set(stats.values()) == {"DELIVRD"}, stats
        received = sim(stack).behaviour.received
        assert sorted(m.destination for m in received) == sorted(CMCC[:5])  # each once
        assert await metric(stack, "duanxin_submits_throttled_total") > throttled_before
        assert await metric(stack, "duanxin_submits_retried_total") > retried_before
        assert await metric(stack, "duanxin_channel_rate") < 100
        history = await events(stack)
        assert history["throttled"] > 0 and history["retried"] > 0
        assert history["submitted"] >= 4  # the throttled ones say when they got through
        assert history["failed"] == 0


async def test_a_long_message_resends_only_the_throttled_segments(tmp_path: Path) -> None:
    """A 1 TPS carrier takes the first segment of three and throttles the others: those two
    are sent again, the first never is, and the handset gets one whole message."""
    text = "长" * 150  # three segments
    async with cmpp_stack(tmp_path, [SimulatorConfig(tps=1)], tps=100) as stack:
        (mid,) = await send(stack, CMCC[:1], text)
        assert (await final_stats(stack, [mid]))[mid] == "DELIVRD"
        behaviour = sim(stack).behaviour
        assert behaviour.submits == 3  # every segment accepted exactly once
        (message,) = behaviour.received  # joined by the same UDH reference
        assert message.text.endswith(text)
        async with stack.running.platform.engine.connect() as conn:
            numbers = [r[0] for r in await conn.execute(select(segments.c.number))]
        assert sorted(numbers) == [1, 2, 3]


async def test_after_its_tries_a_message_fails_over_to_the_next_channel(tmp_path: Path) -> None:
    """A carrier that throttles everything after its first submit: the others go on to the
    second channel after the first one's retry_attempts, and none fails."""
    configs = [SimulatorConfig(tps=0.001), SimulatorConfig()]
    retry = {"retry_attempts": 1}
    async with cmpp_stack(tmp_path, configs, settings=retry) as stack:
        mids = await send(stack, CMCC[:4])
        assert set((await final_stats(stack, mids)).values()) == {"DELIVRD"}
        assert len(sim(stack, 1).behaviour.received) == 1
        assert len(sim(stack, 2).behaviour.received) == 3
        assert (await events(stack))["failed_over"] == 3


async def test_with_no_channel_left_the_report_carries_the_carriers_result(
    tmp_path: Path,
) -> None:
    retry = {"retry_attempts": 2, "retry_window": 0.3}
    async with cmpp_stack(tmp_path, [SimulatorConfig(tps=0.001)], settings=retry) as stack:
        mids = await send(stack, CMCC[:3])
        stats = await final_stats(stack, mids)
        assert sorted(stats.values()) == ["CM:0008", "CM:0008", "DELIVRD"]  # not DX:0100
        assert (await events(stack))["failed"] == 2


async def test_a_link_dropped_with_submits_in_its_window_loses_none(tmp_path: Path) -> None:
    """Today every submit in the window of a dropped link fails with DX:0100."""
    async with cmpp_stack(tmp_path, [SimulatorConfig()], settings={"retry_backoff": 0.05}) as stack:
        simulator = sim(stack)
        simulator.pause_submits()
        mids = await send(stack, CMCC[:6])

        async def all_in_window() -> bool:
            return simulator.submits_in_flight == 6

        await stack.wait_for(all_in_window)
        for session in simulator.sessions:
            session.abort("link dropped by the test")
        simulator.resume_submits()
        stats = await final_stats(stack, mids)
        assert set(stats.values()) == {"DELIVRD"}, stats
        assert sorted(m.destination for m in simulator.behaviour.received) == sorted(CMCC[:6])
        assert (await events(stack))["link_lost"] >= 6


async def test_late_submit_responses_are_matched_and_reported_once(tmp_path: Path) -> None:
    """A carrier slower than the response timeout: the session resends, the worker retries,
    the carrier ends up holding several copies and answers them all late. Every id is kept,
    every report matches, no report is parked as an orphan, each message reports once."""
    settings = {"response_timeout": 0.2, "retry_backoff": 0.05}
    async with cmpp_stack(tmp_path, [SimulatorConfig()], settings=settings) as stack:
        simulator = sim(stack)
        simulator.pause_submits()
        mids = await send(stack, CMCC[:3])

        async def gave_up_once() -> bool:
            return (await events(stack))["no_response"] >= 3

        await stack.wait_for(gave_up_once)
        simulator.resume_submits()
        stats = await final_stats(stack, mids)
        assert set(stats.values()) == {"DELIVRD"}, stats
        copies = simulator.behaviour.received
        assert len(copies) > 3  # the carrier did take copies: their answers came late

        async def every_copy_reported() -> bool:
            async with stack.running.platform.engine.connect() as conn:
                unreported = await conn.execute(
                    select(func.count()).select_from(segments).where(segments.c.stat.is_(None))
                )
                return int(unreported.scalar_one()) == 0

        await stack.wait_for(every_copy_reported)
        assert await count(stack, segments) == len(copies)  # one carrier id per copy
        assert await count(stack, orphan_reports) == 0
        assert (await events(stack))["late_response"] > 0
        assert (await pull_reports(stack))["list"] == []  # reported once, whatever came later


async def test_metrics_show_each_channels_rate(tmp_path: Path) -> None:
    async with cmpp_stack(tmp_path, [SimulatorConfig()], tps=50) as stack:
        assert await metric(stack, "duanxin_channel_rate") == 50


async def test_a_permanent_refusal_fails_at_once_with_the_carriers_code(tmp_path: Path) -> None:
    """Invalid destination is no reason to try again, here or on the next channel."""
    configs = [SimulatorConfig(faults=parse_faults("refuse:1")), SimulatorConfig()]
    async with cmpp_stack(tmp_path, configs) as stack:
        mids = await send(stack, CMCC[:2])
        stats = await final_stats(stack, mids)
        assert set(stats.values()) == {"CM:0013"}  # CMPP Result 13: bad Dest_terminal_Id
        assert sim(stack, 1).behaviour.refused == 2  # one try each
        assert sim(stack, 2).behaviour.received == []
        history = await events(stack)
        assert history["refused"] == 2 and history["retried"] == 0


async def test_only_the_refused_segment_of_a_long_message_is_sent_again(tmp_path: Path) -> None:
    """refuse-segment:2: the carrier throttles segment 2 of 3 the first time; segments 1
    and 3 are never sent again, and the handset gets the message whole (same reference)."""
    text = "长" * 150
    configs = [SimulatorConfig(faults=parse_faults("refuse-segment:2"))]
    async with cmpp_stack(tmp_path, configs, settings={"retry_backoff": 0.01}) as stack:
        (mid,) = await send(stack, CMCC[:1], text)
        assert (await final_stats(stack, [mid]))[mid] == "DELIVRD"
        behaviour = sim(stack).behaviour
        assert behaviour.segments_refused == 1
        assert behaviour.submits == 3
        (message,) = behaviour.received
        assert message.text.endswith(text)


async def test_links_dropped_again_and_again_lose_no_message(tmp_path: Path) -> None:
    """drop-every:4: the carrier kills the link on every fourth submit, with submits in the
    window. Every message is delivered; none ends DX:0100 (or DX:0102)."""
    configs = [SimulatorConfig(faults=parse_faults("drop-every:4"))]
    settings = {"retry_backoff": 0.01}
    async with cmpp_stack(tmp_path, configs, tps=50, settings=settings) as stack:
        mids = await send(stack, CMCC[:6])
        stats = await final_stats(stack, mids)
        assert set(stats.values()) == {"DELIVRD"}, stats
        assert sim(stack).behaviour.dropped >= 1
        received = {m.destination for m in sim(stack).behaviour.received}
        assert received == set(CMCC[:6])


async def test_sgip_smgp_and_cmpp_carriers_that_throttle_half_lose_nothing(
    tmp_path: Path,
) -> None:
    """Each protocol's own flow-control code (CMPP 8, SGIP 11, SMGP 1) is back-pressure."""
    throttling = SimulatorConfig(faults=parse_faults("throttle:0.5"), seed=7)
    numbers = ["13800138001", "13800138002", "18600186001", "18600186002"]
    numbers += ["18900189001", "18900189002"]  # China Mobile, Unicom and Telecom
    async with demo_stack(
        "127.0.0.1", 0, tmp_path, report_delay=TEST_REPORT_DELAY, simulators_like=throttling
    ) as (facts, running, simulators):
        stack = Stack(facts, running, simulators)
        mids = await send(stack, numbers, "您的订单已发货")
        stats = await final_stats(stack, mids)
    assert set(stats.values()) == {"DELIVRD"}, stats
    for name, simulator in simulators.items():
        assert simulator.behaviour.throttled > 0, name
        received = Counter(m.destination[-11:] for m in simulator.behaviour.received)
        assert set(received.values()) == {1}, (name, received)  # each once, none twice
    assert sum(len(s.behaviour.received) for s in simulators.values()) == len(numbers)
