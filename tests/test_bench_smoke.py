"""The benchmark functions run briefly and count something (no timing assertions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from duanxin.bench.console import measure_console
from duanxin.bench.http import CLIENTS, CONTENT, batch_sends, end_to_end, numbers, single_sends
from duanxin.bench.protocols import PROTOCOLS, codec_bench, loopback_bench
from duanxin.bench.rawhttp import RawClient, RawHttpError
from duanxin.bench.server import Target, platform_for
from duanxin.bench.throttled import throttled_run
from tests.conftest import Stack


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_codec_bench_counts_encodes_and_decodes(protocol: str) -> None:
    figures = codec_bench(protocol, 0.1)
    assert figures.encodes > 0
    assert figures.decodes > 0
    assert figures.pdu_bytes > 0


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_loopback_bench_counts_submits_and_reports(protocol: str) -> None:
    figures = await loopback_bench(protocol, 0.2, submitters=4)
    assert figures.accepted > 0
    assert figures.refused == 0
    assert figures.reports == figures.accepted


def _target(stack: Stack) -> Target:
    facts = stack.facts
    return Target(
        facts.url, facts.secret_id, facts.secret_key, facts.account, facts.password, "test"
    )


def test_numbers_are_distinct_and_cover_three_networks() -> None:
    sample = numbers(0, 600)
    assert len(set(sample)) == 600
    assert {n[:3] for n in sample} == {"138", "186", "189"}


@pytest.mark.parametrize("client", CLIENTS)
async def test_http_send_phases_count_accepted_messages(stack: Stack, client: str) -> None:
    target = _target(stack)
    single = await single_sends(target, 0.2, 2, client=client)
    assert single.requests > 0
    assert single.messages == single.requests
    assert single.errors == 0
    batch = await batch_sends(target, 0.2, 1, client=client)
    assert batch.messages > 0
    assert batch.errors == 0


async def test_raw_client_reuses_its_connection_and_reads_refusals(stack: Stack) -> None:
    facts = stack.facts
    async with RawClient(
        facts.url, facts.secret_id, facts.secret_key, facts.account, facts.password, CONTENT
    ) as raw:
        connection = raw.connection()
        assert await connection.send(numbers(0, 3)) == (0, 3)
        assert await connection.send(numbers(3, 1)) == (0, 1)
    async with RawClient(
        facts.url, facts.secret_id, "wrong key", facts.account, facts.password, CONTENT
    ) as raw:
        status, accepted = await raw.connection().send(numbers(4, 1))
    assert (status, accepted) == (401, 0)


async def test_raw_client_counts_a_refused_connection_as_an_error() -> None:
    from duanxin.runtime import free_port

    async with RawClient(f"http://127.0.0.1:{free_port()}", "id", "key", "a", "p", "x") as raw:
        with pytest.raises(RawHttpError):
            await raw.connection().send(["13800000000"])


async def test_http_end_to_end_waits_for_every_report(stack: Stack) -> None:
    figures = await end_to_end(_target(stack), 600, 2, timeout=30)
    assert figures.messages == 600
    assert figures.reports == 600


async def test_platform_in_a_child_process_answers() -> None:
    async with platform_for("process") as target:
        assert target.server_pid is not None
        figures = await single_sends(target, 0.2, 1)  # the raw client, by default
    assert figures.requests > 0


async def test_throttled_bench_delivers_every_message_through_a_throttling_carrier() -> None:
    figures = await throttled_run(40, carrier_tps=20, channel_tps=200, timeout=60)
    assert figures.delivered == 40
    assert figures.failed == 0
    assert figures.duplicates == 0
    assert figures.throttled > 0


async def test_push_bench_counts_pushed_reports() -> None:
    from duanxin.bench.push import Receiver, push_backlog, push_end_to_end

    receiver = Receiver()
    await receiver.start()
    try:
        async with platform_for("inprocess") as target:
            e2e = await push_end_to_end(target, receiver, 20)
            backlog = await push_backlog(target, receiver, 20, before=e2e.reports)
    finally:
        await receiver.stop()
    assert (e2e.reports, backlog.reports) == (20, 20)
    assert e2e.requests >= 1 and backlog.requests >= 1
    assert receiver.verified


async def test_console_bench_fills_the_store_and_times_the_dashboard(tmp_path: Path) -> None:
    figures = await measure_console(f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", 300, 3.0)
    assert figures.messages == 300 and 0 <= figures.today <= 300
    assert figures.dashboard_ms > 0 and figures.search_ms > 0


async def test_platform_with_its_delivery_in_a_process_of_its_own_delivers() -> None:
    from duanxin.bench.http import _children, _server_cpu

    async with platform_for("delivery") as target:
        assert target.server_pid is not None
        delivery = _children(target.server_pid)
        assert len(delivery) == 1  # the delivery process, counted in the server's CPU time
        figures = await end_to_end(target, 20, 1)
        assert (_server_cpu(target.server_pid) or 0) > (_server_cpu(delivery[0]) or 0) > 0
    assert figures.messages == figures.reports == 20


@pytest.mark.postgres
@pytest.mark.redis
async def test_cluster_bench_counts_messages_and_cpu(redis_url: str, tmp_path: Path) -> None:
    from duanxin.bench.cluster import ClusterOptions, run_cluster
    from tests.conftest import POSTGRES_ADMIN_URL, _postgres_available

    if not _postgres_available():
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432")
    options = ClusterOptions(
        (1,), api=1, messages=500, postgres=POSTGRES_ADMIN_URL, redis=redis_url, logs=tmp_path
    )
    figures = await run_cluster(1, options)
    logs = tmp_path / "workers-1"
    assert {p.name for p in logs.iterdir()} == {"api.log", "worker-1.log"}  # kept to read
    assert figures.messages == 500 and figures.rate > 0
    assert figures.accepted_seconds <= figures.seconds
    assert figures.cpu["api"] > 0 and figures.cpu["workers"] > 0  # read from /proc
