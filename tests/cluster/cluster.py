"""A local cluster for the tests: ``duanxin serve`` subprocesses on PostgreSQL and Redis, in
front of simulators that live in the test process (and so outlive any platform process).

Each process is the real command line (``python -m duanxin.cli serve --role ...``), its
settings in ``DUANXIN_*`` variables: the test's own database and Redis key prefix.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import select, update

from duanxin.client import AsyncClient
from duanxin.config import Settings
from duanxin.demo import provision, start_simulators
from duanxin.service.admin import ApiKey
from duanxin.service.platform import Platform
from duanxin.simulator.core import SimulatorServer
from duanxin.store.engine import migrate
from duanxin.store.tables import channels, messages

HOST = "127.0.0.1"
READY = b"duanxin serving on"
SRC = Path(__file__).resolve().parents[2] / "src"


# Ports a process of the test must bind later (the SGIP listener, the API) are taken below
# the kernel's ephemeral range: there, an outgoing connection of any process (to
# PostgreSQL, Redis, a simulator) may hold the port by the time it is bound.
LISTEN_PORTS = range(20000, 32000)


def listen_port(count: int = 1) -> int:
    """The first of ``count`` consecutive ports, outside the ephemeral range, free now."""
    while True:
        first = random.randrange(LISTEN_PORTS.start, LISTEN_PORTS.stop - count)
        if all(_free(first + i) for i in range(count)):
            return first


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


@dataclass
class Process:
    """One ``duanxin serve`` subprocess."""

    name: str
    process: asyncio.subprocess.Process
    port: int | None

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)

    def terminate(self) -> None:
        self.process.send_signal(signal.SIGTERM)

    async def wait(self) -> int:
        return await self.process.wait()


@dataclass
class Cluster:
    """The shared state and the simulators; start processes with :meth:`serve`."""

    database_url: str
    redis_url: str
    prefix: str
    log: Path
    simulators: dict[str, SimulatorServer]
    key: ApiKey
    account: str
    password: str
    processes: list[Process] = field(default_factory=list)

    def environment(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DUANXIN_")}
        env.update(
            PYTHONPATH=f"{SRC}{os.pathsep}{env.get('PYTHONPATH', '')}",
            DUANXIN_DATABASE_URL=self.database_url,
            DUANXIN_BUS_URL=self.redis_url,
            DUANXIN_REDIS_PREFIX=self.prefix,
            DUANXIN_HOST=HOST,
            DUANXIN_SWEEP_INTERVAL_SECONDS="0.2",
            DUANXIN_SHUTDOWN_GRACE_SECONDS="10",
            # The stored secrets' key: the one the test process provisioned with.
            DUANXIN_ENCRYPTION_KEY=os.environ["DUANXIN_ENCRYPTION_KEY"],
            # No customer CMPP/SMPP access servers: their fixed ports are one per machine.
            DUANXIN_ACCESS_CMPP_PORT="0",
            DUANXIN_ACCESS_SMPP_PORT="0",
        )
        env.update(extra)
        return env

    async def start(
        self,
        role: str,
        *,
        port: int | None = None,
        workers: int = 1,
        capture: bool = False,
        **extra: str,
    ) -> asyncio.subprocess.Process:
        """A process; its stderr in the log, or (``capture``) piped for the test to read."""
        args = ["-m", "duanxin.cli", "serve", "--role", role, "--workers", str(workers)]
        if port is not None:
            args += ["--port", str(port)]
        with self.log.open("ab") as errors:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                env=self.environment(**extra),
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE if capture else errors,
            )

    async def serve(self, role: str, *, workers: int = 1, **extra: str) -> Process:
        """A process (or ``workers`` of them behind one parent), once every one is serving."""
        port = listen_port() if role != "worker" else None
        process = await self.start(role, port=port, workers=workers, **extra)
        assert process.stdout is not None
        ready = 0
        while ready < workers:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
            assert line, self.log.read_text()[-3000:]
            ready += READY in line
        asyncio.get_running_loop().create_task(_drain(process.stdout))
        started = Process(f"{role}-{len(self.processes)}", process, port)
        self.processes.append(started)
        return started

    async def stop_all(self) -> None:
        """SIGTERM every process still running (a --workers parent stops its children),
        SIGKILL what has not exited after the drain's grace."""
        running = [p for p in self.processes if p.process.returncode is None]
        for process in running:
            process.terminate()
        for process in running:
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()

    def client(self, api: Process) -> AsyncClient:
        return AsyncClient(
            f"http://{HOST}:{api.port}",
            self.key.secret_id,
            self.key.secret_key,
            self.account,
            self.password,
        )

    def received(self) -> Counter[str]:
        """Numbers the carriers got a submit for, with how many times."""
        return Counter(
            m.destination[-11:] for s in self.simulators.values() for m in s.behaviour.received
        )

    async def states(self) -> Counter[str]:
        platform = Platform.open(Settings(database_url=self.database_url))
        try:
            async with platform.engine.connect() as conn:
                rows = await conn.execute(select(messages.c.state))
                return Counter(row[0] for row in rows)
        finally:
            await platform.close()


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


@asynccontextmanager
async def local_cluster(
    database_url: str,
    redis_url: str,
    tmp_path: Path,
    *,
    cmpp_connections: int = 2,
    cmpp_tps: int = 0,
    report_delay: float = 0.05,
) -> AsyncIterator[Cluster]:
    await asyncio.to_thread(migrate, database_url)
    sgip_listener = listen_port()
    simulators, endpoints = await start_simulators(
        HOST, report_delay, sgip_listen_port=sgip_listener
    )
    prefix = f"duanxin-test:{uuid.uuid4().hex[:12]}:{tmp_path.name}:"
    cluster: Cluster | None = None
    try:
        setup = Platform.open(Settings(database_url=database_url))
        try:
            key, account, password = await provision(setup, endpoints)
            async with setup.engine.begin() as conn:
                await conn.execute(
                    update(channels)
                    .where(channels.c.protocol == "cmpp")
                    .values(max_connections=cmpp_connections, tps=cmpp_tps)
                )
        finally:
            await setup.close()
        cluster = Cluster(
            database_url,
            redis_url,
            prefix,
            tmp_path / "cluster.log",
            simulators,
            key,
            account,
            password,
        )
        yield cluster
    finally:
        if cluster is not None:
            await cluster.stop_all()
        for simulator in simulators.values():
            await simulator.stop()
        await drop_keys(redis_url, prefix)


async def drop_keys(url: str, prefix: str) -> None:
    redis: Any = Redis.from_url(url)
    try:
        keys = [key async for key in redis.scan_iter(match=prefix + "*")]
        if keys:
            await redis.delete(*keys)
    finally:
        await redis.aclose()
