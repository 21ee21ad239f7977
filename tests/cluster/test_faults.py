"""Cluster faults: the Redis server restarted empty in the middle of a load, an API process
SIGKILLed in the middle of its requests, every PostgreSQL connection of the processes
ended: nothing accepted is lost, delivery resumes by itself, every accepted number gets one
final report."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from duanxin.client import AsyncClient, TransportError
from duanxin.store.engine import create_engine
from tests.cluster.cluster import local_cluster
from tests.cluster.test_cluster import (
    last_claimers,
    pull_everything,
    send_all,
    submitting_nodes,
    worker_nodes,
)
from tests.conftest import RedisServer, wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(240)]

LOAD = 1500
TPS = 300
OUTAGE_SECONDS = 5.0  # the fault itself: how long Redis is away (not a wait for a state)


async def test_redis_restarted_empty_mid_load_loses_nothing(
    postgres_url: str, redis_server: RedisServer, tmp_path: Path
) -> None:
    async with local_cluster(
        postgres_url, redis_server.url, tmp_path, cmpp_connections=2, cmpp_tps=TPS
    ) as cluster:
        api = await cluster.serve("api")
        await cluster.serve("worker")
        await cluster.serve("worker")
        client = cluster.client(api)
        try:
            targets = [f"1380{i:07d}" for i in range(LOAD)]
            mids = await send_all([client], targets)

            async def under_way() -> bool:
                return sum(cluster.received().values()) >= LOAD // 3

            await wait_until(under_way, 30)
            await redis_server.stop()
            await asyncio.sleep(OUTAGE_SECONDS)
            await redis_server.start()  # empty: streams, leases and limits all gone
            pulled = await pull_everything([client], mids)
        finally:
            await client.aclose()
        assert set(pulled) == mids and set(pulled.values()) == {1}
        assert set(cluster.received()) == set(targets)
        assert await cluster.states() == {"done": LOAD}
        assert all(p.process.returncode is None for p in cluster.processes)


async def test_sigkill_of_an_api_process_mid_load_loses_no_accepted_message(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with local_cluster(postgres_url, redis_url, tmp_path, cmpp_tps=TPS) as cluster:
        doomed, survivor = await cluster.serve("api"), await cluster.serve("api")
        await cluster.serve("worker")
        clients = [cluster.client(doomed), cluster.client(survivor)]
        answered: list[str] = []

        async def keep_sending(client: AsyncClient, start: int) -> None:
            for batch in range(start, start + 40):
                numbers = [f"138{batch:04d}{i:04d}" for i in range(50)]
                try:
                    result = await client.send(numbers, "您的验证码是1234")
                except (TransportError, OSError):  # killed under this request
                    return
                if result.ok:
                    answered.extend(i.mid for i in result.items if i.result == 0)

        try:
            senders = [
                asyncio.ensure_future(keep_sending(c, 40 * i)) for i, c in enumerate(clients)
            ]

            async def under_way() -> bool:
                return len(answered) >= 500

            await wait_until(under_way, 60)
            doomed.kill()
            assert await doomed.wait() == -signal.SIGKILL
            await asyncio.gather(*senders)
            pulled = await pull_everything([clients[1]], set(answered))
        finally:
            for client in clients:
                await client.aclose()
        # Every status-0 answer's messages delivered and reported once (the survivor pulls).
        assert set(answered) <= set(pulled)
        assert max(Counter(pulled).values()) == 1
        received = cluster.received()
        assert max(received.values()) == 1  # nothing sent twice


async def drop_connections(database_url: str) -> int:
    """End every other PostgreSQL connection to the test's database (what a failover, a
    restarted pgbouncer or an idle-connection killer does to the platform's processes)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            ended = await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            return sum(1 for (done,) in ended if done)
    finally:
        await engine.dispose()


async def test_postgres_connections_dropped_mid_load_the_processes_reconnect(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    """Every connection of the API process and the worker is ended in the middle of a load:
    both carry on by themselves (no restart), later sends are accepted, and every message
    answered with status 0, before or after, is delivered and reported once."""
    async with local_cluster(postgres_url, redis_url, tmp_path, cmpp_tps=TPS) as cluster:
        api = await cluster.serve("api")
        await cluster.serve("worker")
        client = cluster.client(api)
        answered: list[str] = []
        try:
            before = [f"1380{i:07d}" for i in range(1000)]
            answered += await send_all([client], before)

            async def under_way() -> bool:
                return sum(cluster.received().values()) >= 300

            await wait_until(under_way, 30)
            assert await drop_connections(cluster.database_url) >= 2  # both processes'
            after: list[str] = []

            async def accepted_again() -> bool:
                numbers = [f"1390{len(after):03d}{i:04d}" for i in range(100)]
                result = await client.send(numbers, "您的验证码是1234")
                if result.ok:  # a request the drop met may fail (not accepted): resent
                    answered.extend(i.mid for i in result.items if i.result == 0)
                    after.append(result.items[0].mid)
                return len(after) >= 3

            await wait_until(accepted_again, 30)
            pulled = await pull_everything([client], set(answered))
        finally:
            await client.aclose()
        assert set(pulled) == set(answered) and set(pulled.values()) == {1}
        assert max(cluster.received().values()) == 1
        assert len(answered) == 1300
        assert all(p.process.returncode is None for p in cluster.processes)


async def test_sigterm_of_a_worker_mid_load_hands_its_claims_over_at_once(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    """A worker that stops gives every message it held back before it exits (not after its
    lease runs out, as a killed one's). The channel has one connection, which the first
    worker holds: the second hands whatever it reads over to it, so the first holds all
    the work when it is stopped. Once it has exited it holds no claim; the second takes
    the connection over and sends the rest, each number once. (At 20 submits/s the first
    still holds its claims seconds after the signal, however loaded the machine.)"""
    load = 200
    async with local_cluster(
        postgres_url, redis_url, tmp_path, cmpp_connections=1, cmpp_tps=20
    ) as cluster:
        api = await cluster.serve("api")
        stopping = await cluster.serve("worker")
        [node] = await worker_nodes(cluster)
        staying = await cluster.serve("worker")
        client = cluster.client(api)
        try:
            targets = [f"1380{i:07d}" for i in range(load)]
            mids = await send_all([client], targets)

            async def claimed_by_the_first() -> bool:
                return (await submitting_nodes(cluster.database_url))[node] >= load // 2

            await wait_until(claimed_by_the_first, 30)
            stopping.terminate()
            assert await stopping.wait() == 0
            holders = await submitting_nodes(cluster.database_url)
            assert node not in holders, holders  # every claim given back before the exit
            pulled = await pull_everything([client], mids)
        finally:
            await client.aclose()
        senders = await last_claimers(cluster.database_url)
        assert sum(senders.values()) == load and len(senders) == 2  # the rest is the second's
        assert set(pulled) == mids and set(pulled.values()) == {1}
        received = cluster.received()
        assert set(received) == set(targets) and max(received.values()) == 1  # none twice
        assert staying.process.returncode is None
