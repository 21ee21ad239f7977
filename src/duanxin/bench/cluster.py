"""``duanxin bench cluster``: end-to-end messages/s with reports on a local cluster.

For each worker count: a fresh PostgreSQL database and Redis key prefix, simulators in this
process (CMPP, two connections per worker, no TPS cap, reports after 50 ms), ``api`` API
processes (``duanxin serve --role api --workers api``) and the worker processes (``duanxin
serve --role worker``, one each). The messages go in as 500-number requests, 8 in flight,
and the clock runs from the first request to the last report pulled. Each process's
log goes to a file of its own (``--logs``, else a new temporary folder, named at the end);
a run where no report comes for ``STALL_SECONDS`` stops with how far it got.

Besides the rate it measures the CPU each kind of process spent per message (user + system
time from ``/proc`` over the run: the API processes, the workers, the PostgreSQL backends
of the benchmark's database, and this process, the simulators and the load), and the load
average: on a machine shared with other work the rate says little, CPU per message is what
extrapolates (``docs/scaling.md``). Linux only (``/proc``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import asyncpg
from rich.console import Console
from sqlalchemy import update

from duanxin.client import AsyncClient
from duanxin.config import Settings
from duanxin.demo import provision, start_simulators
from duanxin.runtime import free_port
from duanxin.service.platform import Platform
from duanxin.store.crypto import generate_key
from duanxin.store.engine import migrate
from duanxin.store.tables import channels

__all__ = ["ClusterFigures", "ClusterOptions", "cpu_seconds", "run_cluster", "run_cluster_bench"]

CHUNK = 500  # numbers per request
IN_FLIGHT = 8  # requests at once
CONNECTIONS_PER_WORKER = 2
REPORT_DELAY = 0.05
READY = b"duanxin serving on"
CONTENT = "您的通知：订单已发货"
HOST = "127.0.0.1"
STALL_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    workers: tuple[int, ...] = (1, 2, 4)
    api: int = 2  # API processes; 0: as many as worker processes
    messages: int = 10_000
    postgres: str = "postgresql://postgres@127.0.0.1:5432/postgres"  # to create databases
    redis: str = "redis://127.0.0.1:6379/0"
    logs: Path | None = None  # where each process's log goes; None: a new temporary folder


@dataclass(frozen=True, slots=True)
class ClusterFigures:
    """One run: the rates, the CPU seconds per role, the load average before and after."""

    workers: int
    api: int
    messages: int
    accepted_seconds: float
    seconds: float
    cpu: dict[str, float]  # role -> CPU seconds over the run
    load: tuple[float, float]

    @property
    def rate(self) -> float:
        return self.messages / self.seconds

    def cpu_ms_per_message(self, role: str) -> float:
        return 1000 * self.cpu.get(role, 0.0) / self.messages


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (0 when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree(pid: int) -> list[int]:
    """A process and its descendants (a ``serve --workers`` parent and its children)."""
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found += _tree(int(child))
    return found


def _cpu_of(pids: Iterable[int]) -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in pids}


async def _serve(
    env: dict[str, str], role: str, count: int, port: int, log: Path
) -> asyncio.subprocess.Process:
    with log.open("ab") as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "duanxin.cli", "serve", "--role", role,
            "--workers", str(count), "--port", str(port),
            env=env, stdout=asyncio.subprocess.PIPE, stderr=errors,
        )  # fmt: skip
    assert process.stdout is not None
    ready = 0
    while ready < count:
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {role} process exited at start-up (its log: {log})")
        ready += READY in line
    return process


async def _backends(admin: asyncpg.Connection, database: str) -> list[int]:
    rows = await admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", database)
    return [int(row["pid"]) for row in rows]


class _Cluster:
    """The processes of one run, and their CPU readings."""

    def __init__(self, logs: Path) -> None:
        self.processes: dict[str, list[asyncio.subprocess.Process]] = {"api": [], "workers": []}
        self.logs = logs

    def pids(self, role: str) -> list[int]:
        return [pid for p in self.processes[role] for pid in _tree(p.pid)]

    async def stop(self) -> None:
        every = [p for group in self.processes.values() for p in group]
        for process in every:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process in every:
            await process.wait()


async def run_cluster(workers: int, options: ClusterOptions) -> ClusterFigures:
    """One run with ``workers`` worker processes (see the module docstring)."""
    name = f"duanxin_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(options.postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = options.postgres.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    logs = options.logs or Path(tempfile.mkdtemp(prefix="duanxin-bench-cluster-"))
    cluster = _Cluster(logs / f"workers-{workers}")
    cluster.logs.mkdir(parents=True, exist_ok=True)
    simulators, endpoints = await start_simulators(HOST, REPORT_DELAY, sgip_listen_port=free_port())
    try:
        key = os.environ.setdefault("DUANXIN_ENCRYPTION_KEY", generate_key())
        await asyncio.to_thread(migrate, url, key)
        setup = Platform.open(Settings(database_url=url, encryption_key=key))
        try:
            api_key, account, password = await provision(setup, endpoints)
            async with setup.engine.begin() as conn:
                await conn.execute(
                    update(channels)
                    .where(channels.c.protocol == "cmpp")
                    .values(max_connections=CONNECTIONS_PER_WORKER * workers, tps=0)
                )
        finally:
            await setup.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DUANXIN_")}
        src = str(Path(__file__).resolve().parents[2])
        env.update(
            PYTHONPATH=os.pathsep.join(p for p in (src, env.get("PYTHONPATH", "")) if p),
            DUANXIN_DATABASE_URL=url, DUANXIN_BUS_URL=options.redis,
            DUANXIN_REDIS_PREFIX=f"duanxin-bench:{name}:", DUANXIN_HOST=HOST,
            DUANXIN_ENCRYPTION_KEY=key,
            DUANXIN_ACCESS_CMPP_PORT="0", DUANXIN_ACCESS_SMPP_PORT="0",
        )  # fmt: skip
        port = free_port()
        apis = options.api or workers
        logs = cluster.logs
        cluster.processes["api"].append(await _serve(env, "api", apis, port, logs / "api.log"))
        for n in range(workers):
            worker = await _serve(env, "worker", 1, free_port(), logs / f"worker-{n + 1}.log")
            cluster.processes["workers"].append(worker)
        clients = [
            AsyncClient(f"http://{HOST}:{port}", api_key.secret_id, api_key.secret_key,
                        account, password)
            for _ in range(IN_FLIGHT)
        ]  # fmt: skip
        try:
            return await _measure(workers, apis, options, cluster, clients, (admin, name))
        finally:
            for client in clients:
                await client.aclose()
    finally:
        await cluster.stop()
        for simulator in simulators.values():
            await simulator.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def _measure(
    workers: int,
    apis: int,
    options: ClusterOptions,
    cluster: _Cluster,
    clients: list[AsyncClient],
    database: tuple[asyncpg.Connection, str],
) -> ClusterFigures:
    count = options.messages
    numbers = [f"138{i:08d}" for i in range(count)]
    chunks = [numbers[i : i + CHUNK] for i in range(0, count, CHUNK)]
    roles = ("api", "workers")
    before = {role: _cpu_of(cluster.pids(role)) for role in roles}
    backends_before = _cpu_of(await _backends(*database))
    own_before = time.process_time()
    load_before = os.getloadavg()[0]
    started = time.perf_counter()

    async def sender(index: int) -> None:
        for chunk in chunks[index::IN_FLIGHT]:
            result = await clients[index].send(chunk, CONTENT)
            if not result.ok:
                raise RuntimeError(f"a send was refused: {result.status} {result.msg}")

    await asyncio.gather(*(sender(i) for i in range(IN_FLIGHT)))
    accepted = time.perf_counter() - started
    reported, last_report = 0, time.perf_counter()
    while reported < count:
        got = await clients[0].reports(5000)
        reported += len(got.items)
        if got.items:
            last_report = time.perf_counter()
        elif time.perf_counter() - last_report > STALL_SECONDS:
            raise RuntimeError(
                f"stalled: {reported} of {count} reported, none for {STALL_SECONDS:.0f} s "
                f"(process logs in {cluster.logs})"
            )
        else:
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    cpu: dict[str, float] = {}
    for role in roles:
        after = _cpu_of(cluster.pids(role))
        cpu[role] = sum(t - before[role].get(pid, 0.0) for pid, t in after.items())
    backends = _cpu_of(await _backends(*database))
    cpu["postgres"] = sum(t - backends_before.get(pid, 0.0) for pid, t in backends.items())
    cpu["bench"] = time.process_time() - own_before
    return ClusterFigures(
        workers, apis, count, accepted, elapsed, cpu, (load_before, os.getloadavg()[0])
    )


def run_cluster_bench(options: ClusterOptions, console: Console) -> list[ClusterFigures]:
    """Every worker count of ``options``, one line each, then the table for BENCHMARKS.md."""
    if not sys.platform.startswith("linux"):
        raise RuntimeError("bench cluster reads CPU times from /proc: Linux only")
    logs = options.logs or Path(tempfile.mkdtemp(prefix="duanxin-bench-cluster-"))
    options = replace(options, logs=logs)
    console.print(f"process logs in {logs}", highlight=False)
    figures = []
    for workers in options.workers:
        run = asyncio.run(run_cluster(workers, options))
        figures.append(run)
        console.print(
            f"workers={workers} api={run.api} messages={run.messages}: accepted in "
            f"{run.accepted_seconds:.1f} s, end to end {run.rate:,.0f} msg/s; CPU ms/message "
            f"api {run.cpu_ms_per_message('api'):.2f}, workers "
            f"{run.cpu_ms_per_message('workers'):.2f}, postgres "
            f"{run.cpu_ms_per_message('postgres'):.2f}, bench "
            f"{run.cpu_ms_per_message('bench'):.2f}; load {run.load[0]:.1f} -> {run.load[1]:.1f}",
            highlight=False,
        )
    return figures
