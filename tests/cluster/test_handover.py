"""A carrier connection handed to another worker in the middle of a load strands nothing.

When a second worker joins, the first gives it one of the channel's two connection slots:
it logs that connection out while its submit window is full and more submits wait for the
window. The gateway answers the submits of the window before it answers the logout (here
the logout never reaches it: see :mod:`tests.cluster.link`), and every answer frees a
slot of a window that may not take new submits any more. Those waiting submits were never
sent: they go out on the connection the worker keeps, once each, and nothing stays claimed
by a worker that is alive (before the fix they stayed ``submitting`` until the ten-minute
claim lease ran out). Both workers then stop on SIGTERM.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select, update

from duanxin.config import Settings
from duanxin.service.platform import Platform
from duanxin.simulator.cmpp import CmppSimulator
from duanxin.store.tables import channels
from tests.cluster.cluster import HOST, Cluster, local_cluster
from tests.cluster.link import LosingLink
from tests.cluster.test_cluster import pull_everything, send_all
from tests.conftest import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(180)]

LOAD = 300  # many more than the two windows hold
CONNECTIONS = 2
PATIENCE_SECONDS = 150.0  # the channel's response timeout: longer than the test holds answers
STOP_SECONDS = 30.0  # the drain's grace (10 s) and the links' logouts, loosely


async def route_cmpp_through(cluster: Cluster, port: int) -> int:
    """Point the CMPP channel at ``port``, its submits waiting for their answers as long
    as the test holds them (no resent copies); its submit window per connection."""
    platform = Platform.open(Settings(database_url=cluster.database_url))
    try:
        async with platform.engine.begin() as conn:
            cmpp = channels.c.protocol == "cmpp"
            row = (await conn.execute(select(channels).where(cmpp))).mappings().one()
            extra = {**(row["settings"] or {}), "response_timeout": PATIENCE_SECONDS}
            await conn.execute(
                update(channels).where(cmpp).values(host=HOST, port=port, settings=extra)
            )
            return int(row["window"])
    finally:
        await platform.close()


async def test_a_connection_handed_over_with_submits_waiting_strands_none(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> None:
    async with local_cluster(
        postgres_url, redis_url, tmp_path, cmpp_connections=CONNECTIONS
    ) as cluster:
        simulator = cluster.simulators["cmpp"]
        assert isinstance(simulator, CmppSimulator)
        link = LosingLink(HOST, (HOST, simulator.port))
        await link.start()
        try:
            window = await route_cmpp_through(cluster, link.port)
            api = await cluster.serve("api")
            first = await cluster.serve("worker")
            client = cluster.client(api)
            try:

                async def both_connected() -> bool:
                    return len(simulator.sessions) == CONNECTIONS  # on the first worker

                await wait_until(both_connected, 30)
                simulator.pause_submits()  # answers held: the windows fill, the rest wait
                targets = [f"1380{i:07d}" for i in range(LOAD)]
                mids = await send_all([client], targets)

                async def windows_full() -> bool:
                    return simulator.submits_in_flight >= CONNECTIONS * window

                await wait_until(windows_full, 30)
                second = await cluster.serve("worker")
                # The first worker's next lease round gives one slot up: it logs it out.
                await asyncio.wait_for(link.logout_seen.wait(), 30)
                simulator.resume_submits()
                pulled = await pull_everything([client], mids)
            finally:
                await client.aclose()
            for worker in (first, second):
                worker.terminate()
            for worker in (first, second):
                assert await asyncio.wait_for(worker.wait(), STOP_SECONDS) == 0
        finally:
            await link.stop()
        assert set(pulled) == mids and set(pulled.values()) == {1}
        received = cluster.received()
        assert set(received) == set(targets) and max(received.values()) == 1  # none twice
        assert await cluster.states() == {"done": LOAD}
        assert link.logouts >= 1
        assert first.process.returncode == second.process.returncode == 0
