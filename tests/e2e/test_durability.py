"""A message accepted with status 0 is never lost (SPEC 2.4, 5), not even on a SIGKILL.

The platform runs in a subprocess (``platform_process.py``) on a SQLite file, in front of
simulators that live in the test process and so outlive it. The first process serves the
API only (nothing can be submitted); it is killed with SIGKILL once the sends are answered;
a second process on the same file, with delivery, must submit every accepted message exactly
once and report each exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import select

from duanxin.client import AsyncClient
from duanxin.config import Settings
from duanxin.demo import provision, start_simulators
from duanxin.runtime import free_port
from duanxin.service.platform import Platform
from duanxin.store.engine import migrate
from duanxin.store.tables import messages
from tests.e2e.helpers import MOBILE, TELECOM, UNICOM, in_future

SCRIPT = Path(__file__).with_name("platform_process.py")
HOST = "127.0.0.1"


@asynccontextmanager
async def platform_process(
    database: Path, port: int, role: str, log: Path
) -> AsyncIterator[asyncio.subprocess.Process]:
    """The platform in a subprocess, ready; killed hard on exit if still running."""
    with log.open("ab") as errors:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            "--db",
            str(database),
            "--port",
            str(port),
            "--role",
            role,
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        assert line.strip() == b"ready", log.read_text()
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def kill_hard(process: asyncio.subprocess.Process) -> None:
    os.kill(process.pid, signal.SIGKILL)


async def _wait(predicate: object, timeout: float = 30.0) -> None:
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def _states(url: str) -> Counter[str]:
    platform = Platform.open(Settings(database_url=url))
    try:
        async with platform.engine.connect() as conn:
            rows = await conn.execute(select(messages.c.state))
            return Counter(row[0] for row in rows)
    finally:
        await platform.close()


async def test_accepted_messages_survive_a_sigkill(tmp_path: Path) -> None:
    database = tmp_path / "duanxin.db"
    url = f"sqlite+aiosqlite:///{database}"
    log = tmp_path / "platform.log"
    await asyncio.to_thread(migrate, url)
    # The platform runs in another process: its SGIP listener needs a port known up front.
    simulators, endpoints = await start_simulators(HOST, 0.05, sgip_listen_port=free_port())
    try:
        setup = Platform.open(Settings(database_url=url))
        try:
            key, account, password = await provision(setup, endpoints)
        finally:
            await setup.close()
        port = free_port()
        base = f"http://{HOST}:{port}"

        # 1. API only: accept, then die without a chance to clean up.
        async with (
            platform_process(database, port, "api", log) as api,
            AsyncClient(base, key.secret_id, key.secret_key, account, password) as client,
        ):
            numbers = [f"1380013{i:04d}" for i in range(10)] + [UNICOM, TELECOM]
            short = await client.send(numbers, "您的验证码是1234")
            long = await client.send([MOBILE, UNICOM], "长" * 130)  # 3 segments each
            scheduled = await client.send([TELECOM], "定时", sendtime=in_future(1))
            mixed = await client.send([MOBILE, "123"], "通知")
            for result in (short, long, scheduled, mixed):
                assert result.ok, result
            kill_hard(api)
            assert await api.wait() == -signal.SIGKILL
        assert all(not s.behaviour.received for s in simulators.values())
        accepted = [i for r in (short, long, scheduled, mixed) for i in r.items if i.result == 0]
        all_mids = {i.mid for r in (short, long, scheduled, mixed) for i in r.items}
        assert len(accepted) == 16 and len(all_mids) == 17

        # 2. Everything, on the same file: every message goes out once, reports once.
        async with (
            platform_process(database, port, "all", log),
            AsyncClient(base, key.secret_id, key.secret_key, account, password) as client,
        ):
            reports: list[tuple[str, str]] = []

            async def all_reported() -> bool:
                pulled = await client.reports(10000)
                assert pulled.ok, pulled
                reports.extend((r.mid, r.stat) for r in pulled)
                return {mid for mid, _ in reports} >= all_mids

            await _wait(all_reported)
            assert (await client.reports()).items == ()
            balance = await client.balance()
        assert Counter(mid for mid, _ in reports) == dict.fromkeys(all_mids, 1)
        stats = dict(reports)
        assert all(stats[i.mid] == "DELIVRD" for i in accepted)
        assert stats[mixed.items[1].mid] == "DX:0001"
        assert balance.balance == -(len(short.items) + 2 * 3 + 1 + 1)
        received = Counter(
            (m.destination[-11:], m.text) for s in simulators.values() for m in s.behaviour.received
        )
        assert sum(received.values()) == len(accepted)
        assert all(count == 1 for count in received.values()), received
        assert await _states(url) == {"done": 17}
    finally:
        for simulator in simulators.values():
            await simulator.stop()
