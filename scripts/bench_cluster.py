"""End-to-end messages/s with reports on a local cluster (a benchmark, not a test).

    PYTHONPATH=src python scripts/bench_cluster.py --workers 1 2 4 --api 2 --messages 10000

For each worker count: a fresh PostgreSQL database and Redis prefix, simulators in this
process (CMPP, two connections per worker, no TPS cap, reports after 50 ms), ``--api`` API
processes (``duanxin serve --role api --workers N``) and the worker processes. Sends the
messages as 500-number requests, 8 at a time, and counts from the first request to the
last report pulled. Prints one line per worker count.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy import update

from duanxin.client import AsyncClient
from duanxin.config import Settings
from duanxin.demo import provision, start_simulators
from duanxin.runtime import free_port
from duanxin.service.platform import Platform
from duanxin.store.engine import migrate
from duanxin.store.tables import channels

ADMIN = os.environ.get("DUANXIN_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("DUANXIN_BENCH_REDIS", "redis://127.0.0.1:6379/0")
SRC = Path(__file__).resolve().parents[1] / "src"


async def serve(
    env: dict[str, str], role: str, workers: int, port: int
) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "duanxin.cli", "serve", "--role", role,
        "--workers", str(workers), "--port", str(port),
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert process.stdout is not None
    ready = 0
    while ready < workers:
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError(f"{role} process exited")
        ready += b"duanxin serving on" in line
    return process


async def run(workers: int, api: int, count: int) -> float:
    name = f"duanxin_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    prefix = f"duanxin-bench:{name}:"
    processes: list[asyncio.subprocess.Process] = []
    simulators, endpoints = await start_simulators("127.0.0.1", 0.05, sgip_listen_port=free_port())
    try:
        await asyncio.to_thread(migrate, url, os.environ["DUANXIN_ENCRYPTION_KEY"])
        setup = Platform.open(Settings(database_url=url))
        key, account, password = await provision(setup, endpoints)
        async with setup.engine.begin() as conn:
            await conn.execute(
                update(channels)
                .where(channels.c.protocol == "cmpp")
                .values(max_connections=2 * workers, tps=0)
            )
        await setup.close()
        env = {k: v for k, v in os.environ.items() if not k.startswith("DUANXIN_")}
        env.update(
            PYTHONPATH=str(SRC), DUANXIN_DATABASE_URL=url, DUANXIN_BUS_URL=REDIS,
            DUANXIN_REDIS_PREFIX=prefix, DUANXIN_HOST="127.0.0.1",
            DUANXIN_ENCRYPTION_KEY=os.environ["DUANXIN_ENCRYPTION_KEY"],
        )  # fmt: skip
        port = free_port()
        processes.append(await serve(env, "api", api, port))
        for _ in range(workers):
            processes.append(await serve(env, "worker", 1, free_port()))
        base = f"http://127.0.0.1:{port}"
        clients = [
            AsyncClient(base, key.secret_id, key.secret_key, account, password) for _ in range(8)
        ]
        numbers = [f"138{i:08d}" for i in range(count)]
        chunks = [numbers[i : i + 500] for i in range(0, count, 500)]
        started = time.perf_counter()

        async def sender(index: int) -> None:
            for chunk in chunks[index::8]:
                result = await clients[index].send(chunk, "您的通知：订单已发货")
                assert result.ok, result

        await asyncio.gather(*(sender(i) for i in range(8)))
        print(f"  accepted in {time.perf_counter() - started:.2f} s", file=sys.stderr)
        reported = 0
        while reported < count:
            got = await clients[0].reports(5000)
            reported += len(got.items)
            if not got.items:
                await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        for client in clients:
            await client.aclose()
        return count / elapsed
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            await process.wait()
        for simulator in simulators.values():
            await simulator.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def main() -> None:
    from duanxin.store.crypto import generate_key

    # The stored secrets' key: this process provisions with it, the servers read it.
    os.environ.setdefault("DUANXIN_ENCRYPTION_KEY", generate_key())
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--api", type=int, default=2, help="API processes (serve --workers)")
    parser.add_argument("--messages", type=int, default=10000)
    args = parser.parse_args()
    for workers in args.workers:
        rate = await run(workers, args.api, args.messages)
        print(f"workers={workers} api={args.api} messages={args.messages}: {rate:,.0f} msg/s")


if __name__ == "__main__":
    asyncio.run(main())
