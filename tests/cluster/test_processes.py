"""Cluster processes: node ids leased (a held DUANXIN_NODE_ID refuses to start), a worker
that cannot open its channels exits at once with one line, ``--workers N`` API processes
share one port and count per-number frequency limits together, and a channel's connections
and TPS are shared by the workers."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from duanxin.config import Settings
from duanxin.domain.msgid import unpack_msg_id
from duanxin.service.platform import Platform
from duanxin.store.tables import channels
from tests.cluster.cluster import HOST, listen_port, local_cluster
from tests.conftest import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(120)]


def _error_lines(stderr: bytes) -> list[str]:
    """The reason a process gave for not starting: one line, the last, and no traceback
    (log lines written before it, the migrations' say, are not part of it)."""
    text = stderr.decode()
    assert "Traceback" not in text, text
    lines = text.strip().splitlines()
    assert lines and lines[-1].startswith("error:"), text
    return [line for line in lines if line.startswith("error:")]


async def test_a_node_id_held_by_a_live_process_refuses_to_start(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with local_cluster(postgres_url, redis_url, tmp_path) as cluster:
        await cluster.serve("api", DUANXIN_NODE_ID="77")
        second = await cluster.start("api", port=0, capture=True, DUANXIN_NODE_ID="77")
        _, output = await asyncio.wait_for(second.communicate(), timeout=30)
        assert second.returncode == 1
        errors = _error_lines(output)
        assert len(errors) == 1 and "node id 77" in errors[0], output


@pytest.mark.parametrize("role", ["worker", "all"])
async def test_a_worker_that_cannot_bind_its_listener_exits_at_once(
    postgres_url: str, redis_url: str, tmp_path: Path, role: str
) -> None:
    """The SGIP listener port is held by another program: the process (a worker, or one
    serving everything) says why in one line and exits, without waiting for anything."""
    async with local_cluster(postgres_url, redis_url, tmp_path) as cluster:
        platform = Platform.open(Settings(database_url=postgres_url))
        try:
            async with platform.engine.connect() as conn:
                extra = (
                    await conn.execute(
                        select(channels.c.settings).where(channels.c.protocol == "sgip")
                    )
                ).scalar_one()
        finally:
            await platform.close()
        with socket.socket() as squatter:  # another program holds the SGIP listener port
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind((HOST, int(extra["listen_port"])))
            squatter.listen()
            port = listen_port() if role == "all" else None  # "all" serves the API too
            worker = await cluster.start(role, port=port, capture=True)
            _, output = await asyncio.wait_for(worker.communicate(), timeout=30)
        assert worker.returncode == 1
        errors = _error_lines(output)
        assert len(errors) == 1 and errors[0].startswith("error: cannot start"), output
        assert "Traceback" not in cluster.log.read_text()


async def test_api_processes_sharing_a_port_count_frequency_limits_together(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Verification codes: once a minute per number, whichever process takes the request."""
    async with local_cluster(postgres_url, redis_url, tmp_path) as cluster:
        api = await cluster.serve("api", workers=2)
        shared = [f"1380{i:07d}" for i in range(499)]
        clients = [cluster.client(api) for _ in range(16)]  # 16 connections, spread by the kernel
        try:
            # 500 numbers each: the 499 shared ones and one of the request's own.
            text = "您的验证码是1234"
            sends = [c.send([*shared, f"1390{i:07d}"], text) for i, c in enumerate(clients)]
            results = await asyncio.gather(*sends)
        finally:
            for client in clients:
                await client.aclose()
        assert all(r.status == 0 for r in results), [r for r in results if not r.ok][:1]
        accepted = Counter(i.mobile for r in results for i in r.items if i.result == 0)
        assert Counter({m: n for m, n in accepted.items() if m in shared}) == dict.fromkeys(
            shared, 1
        )  # each shared number once across both processes; the rest refused (result 5)
        assert sum(1 for r in results for i in r.items if i.result == 5) == 15 * len(shared)
        nodes = {unpack_msg_id(int(i.mid, 16)).node for r in results for i in r.items}
        assert len(nodes) == 2  # both processes answered, each minting with its own node id


async def test_channel_tps_and_connections_hold_across_workers(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Two workers share a channel of 2 connections and 100 TPS: one connection each, and
    together no more than the channel's TPS (measured over a window at the carrier)."""
    tps, count = 100, 500
    async with local_cluster(
        postgres_url, redis_url, tmp_path, cmpp_connections=2, cmpp_tps=tps
    ) as cluster:
        api = await cluster.serve("api")
        await cluster.serve("worker")
        await cluster.serve("worker")
        redis = Redis.from_url(redis_url, decode_responses=True)

        async def one_connection_each() -> bool:
            keys = [k async for k in redis.scan_iter(match=cluster.prefix + "lease:conn:*")]
            holders = await redis.mget(keys) if keys else []
            cmpp = [h for k, h in zip(keys, holders, strict=True) if k.endswith((":0", ":1"))]
            return len(cmpp) >= 2 and len(set(cmpp)) >= 2 and len(set(holders)) >= 2

        try:
            await wait_until(one_connection_each, 30)  # the first worker gave one back
        finally:
            await redis.aclose()
        cmpp = cluster.simulators["cmpp"]

        async def both_logged_in() -> bool:
            return len(cmpp.sessions) == 2  # type: ignore[attr-defined]

        await wait_until(both_logged_in, 30)
        client = cluster.client(api)
        try:
            for start in range(0, count, 50):  # requests spread over both workers
                numbers = [f"1380{i:07d}" for i in range(start, start + 50)]
                result = await client.send(numbers, "您的通知：已发货")
                assert result.ok, result
            loop = asyncio.get_running_loop()

            async def received(n: int) -> bool:
                return len(cmpp.behaviour.received) >= n

            await wait_until(lambda: received(tps), 30)  # past the first second's burst
            start, started = len(cmpp.behaviour.received), loop.time()
            await wait_until(lambda: received(start + 2 * tps), 30)
            rate = (len(cmpp.behaviour.received) - start) / (loop.time() - started)
        finally:
            await client.aclose()
        # Each worker alone would send at the channel's 100 TPS: together at most about it
        # (a slow machine only lowers the rate).
        assert rate <= tps * 1.3, rate
        assert len(cmpp.sessions) <= 2  # type: ignore[attr-defined]


async def test_every_process_answers_its_own_metrics_and_readiness(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    """With ``DUANXIN_METRICS_LISTEN`` ``host:P``, process *i* of ``--workers N`` answers
    ``/metrics``, ``/healthz`` and ``/readyz`` on ``P+i``: the API processes (whose shared
    port answers from whichever process takes the connection) and the delivery workers
    (which have no API port)."""
    async with local_cluster(postgres_url, redis_url, tmp_path) as cluster:
        api_metrics, worker_metrics = listen_port(2), listen_port(2)
        api = await cluster.serve("api", workers=2, DUANXIN_METRICS_LISTEN=f"{HOST}:{api_metrics}")
        await cluster.serve("worker", workers=2, DUANXIN_METRICS_LISTEN=f"{HOST}:{worker_metrics}")
        client = cluster.client(api)
        try:
            sent = await client.send(["13800138000"], "您的验证码是1234")
            assert sent.ok, sent
        finally:
            await client.aclose()
        async with httpx.AsyncClient() as http:

            async def get(port: int, path: str) -> httpx.Response:
                return await http.get(f"http://{HOST}:{port}{path}")

            ports = [api_metrics, api_metrics + 1, worker_metrics, worker_metrics + 1]

            async def all_ready() -> bool:  # the workers' carriers logged in
                codes = [(await get(port, "/readyz")).status_code for port in ports]
                return codes == [200] * len(ports)

            await wait_until(all_ready, 30)
            pages = [(await get(port, "/metrics")).text for port in ports]
            alive = [(await get(port, "/healthz")).status_code for port in ports]
        assert alive == [200] * len(ports)
        # Each worker reports its own channels; the API process that took the send counted
        # it (the other none), so the pages are the processes' own.
        assert all('duanxin_channel_up{channel="demo-cmpp"}' in page for page in pages[2:])
        accepted = [_sample(page, "duanxin_messages_accepted_total") for page in pages[:2]]
        assert sorted(accepted) == [0.0, 1.0], accepted


def _sample(page: str, name: str) -> float:
    for line in page.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
