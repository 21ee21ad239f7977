"""A load for the tests that run the platform in processes of their own on a SQLite file.

The carrier simulators live in the test process and outlive every platform process, so
what the carriers received is counted there. The load goes to China Mobile (CMPP) only,
on a channel capped at ``LOAD_TPS`` so that it takes seconds and a stop finds it half sent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update

from duanxin.client import AsyncClient
from duanxin.config import Settings
from duanxin.demo import provision, start_simulators
from duanxin.runtime import free_port
from duanxin.service.admin import ApiKey
from duanxin.service.platform import Platform
from duanxin.simulator.core import SimulatorServer
from duanxin.store.engine import migrate
from duanxin.store.tables import channels

HOST = "127.0.0.1"
LOAD = 1500
LOAD_TPS = 300
CMPP_WINDOW = 16  # the channel's window: what a crash can leave answered but not stored
# Responses answered but not yet committed at a kill: tens of milliseconds' worth on an
# idle machine (then exactly the window is resent), up to a quarter second's on a busy one.
WRITE_SLACK = LOAD_TPS // 4


@dataclass
class Load:
    """A migrated SQLite file with a provisioned account, and the simulators it sends to."""

    database: Path
    url: str
    log: Path
    port: int
    simulators: dict[str, SimulatorServer]
    key: ApiKey
    account: str
    password: str

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def cmpp(self) -> SimulatorServer:
        return self.simulators["cmpp"]

    def client(self) -> AsyncClient:
        return AsyncClient(
            self.base, self.key.secret_id, self.key.secret_key, self.account, self.password
        )

    def received(self) -> Counter[str]:
        """How many times each number reached a carrier."""
        return Counter(
            m.destination[-11:] for s in self.simulators.values() for m in s.behaviour.received
        )


@asynccontextmanager
async def load_setup(tmp_path: Path) -> AsyncIterator[Load]:
    database = tmp_path / "duanxin.db"
    url = f"sqlite+aiosqlite:///{database}"
    await asyncio.to_thread(migrate, url)
    # The platform runs in another process: its SGIP listener needs a port known up front.
    simulators, endpoints = await start_simulators(HOST, 0.05, sgip_listen_port=free_port())
    try:
        setup = Platform.open(Settings(database_url=url))
        try:
            key, account, password = await provision(setup, endpoints)
            async with setup.engine.begin() as conn:
                await conn.execute(
                    update(channels).where(channels.c.protocol == "cmpp").values(tps=LOAD_TPS)
                )
        finally:
            await setup.close()
        log = tmp_path / "platform.log"
        yield Load(database, url, log, free_port(), simulators, key, account, password)
    finally:
        for simulator in simulators.values():
            await simulator.stop()


async def send_load(client: AsyncClient) -> set[str]:
    """Send the ``LOAD`` numbers in 500-number requests; the mids, all accepted."""
    numbers = [f"1380{i:07d}" for i in range(LOAD)]
    chunks = [numbers[i : i + 500] for i in range(0, LOAD, 500)]
    results = await asyncio.gather(*(client.send(chunk, "您的验证码是1234") for chunk in chunks))
    assert all(r.ok for r in results), results
    mids = {i.mid for r in results for i in r.items if i.result == 0}
    assert len(mids) == LOAD
    return mids
