"""Delivery in a process of its own next to the HTTP API, over one SQLite file (issue 10).

Real processes (``python -m duanxin.cli serve``), a real SQLite file, the carrier
simulators in the test process over TCP (they outlive every platform process, and count
what they received). Covered: what the API process accepts, the delivery process delivers,
and its reports are pulled from the API; the delivery child killed in the middle of a load
is restarted and every accepted message ends with exactly one report; the API process
killed (the two roles run as separate services) leaves delivery going, and an API started
again answers; concurrent sends while delivery writes never meet "database is locked".
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select

from duanxin.bus.local import DeliveryLock, local_paths
from duanxin.client import AsyncClient
from duanxin.config import Settings
from duanxin.service.platform import Platform
from duanxin.store.tables import messages
from tests.conftest import wait_until
from tests.e2e.helpers import MOBILE, TELECOM, UNICOM
from tests.e2e.load import CMPP_WINDOW, LOAD, WRITE_SLACK, Load, load_setup, send_load

SOON = 40.0
PID = re.compile(rb"delivery in its own process \(pid (\d+)\)")


@dataclass
class _Serve:
    process: asyncio.subprocess.Process
    output: list[bytes]

    @property
    def delivery_pid(self) -> int | None:
        for line in self.output:
            found = PID.search(line)
            if found:
                return int(found.group(1))
        return None


@asynccontextmanager
async def _serve(
    setup: Load, *args: str, env: Mapping[str, str] | None = None, http: bool = True
) -> AsyncIterator[_Serve]:
    """``duanxin serve`` on the setup's database, running (its HTTP API answering, unless it
    runs delivery only); killed hard on exit if still running."""
    environment = {
        **os.environ,
        "DUANXIN_DATABASE_URL": setup.url,
        "DUANXIN_SWEEP_INTERVAL_SECONDS": "0.2",
        "DUANXIN_SHUTDOWN_GRACE_SECONDS": "30",
        **(env or {}),
    }
    command = [sys.executable, "-m", "duanxin.cli", "serve", "--port", str(setup.port), *args]
    with setup.log.open("ab") as errors:
        process = await asyncio.create_subprocess_exec(
            *command, env=environment, stdout=asyncio.subprocess.PIPE, stderr=errors
        )
    served = _Serve(process, [])
    assert process.stdout is not None
    try:
        while True:
            line = await asyncio.wait_for(process.stdout.readline(), timeout=60)
            assert line, setup.log.read_text()
            served.output.append(line)
            if line.startswith(b"duanxin serving on"):
                break
        if http:
            await wait_until(lambda: _answers(setup.base), 30)
        yield served
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _answers(base: str) -> bool:
    try:
        async with httpx.AsyncClient() as http:
            return (await http.get(f"{base}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


async def _ready(base: str) -> bool:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{base}/readyz")).status_code == 200


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:  # a zombie is not alive
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


async def _states(url: str) -> Counter[str]:
    platform = Platform.open(Settings(database_url=url))
    try:
        async with platform.engine.connect() as conn:
            return Counter(row[0] for row in await conn.execute(select(messages.c.state)))
    finally:
        await platform.close()


async def _pull_all(client: AsyncClient, mids: set[str], reports: list[str]) -> None:
    async def all_reported() -> bool:
        pulled = await client.reports(10000)
        assert pulled.ok, pulled
        reports.extend(r.mid for r in pulled)
        return set(reports) >= mids

    await wait_until(all_reported, SOON)


DELIVERY_CHILD = {"DUANXIN_DELIVERY_PROCESS": "true"}


async def test_the_delivery_process_delivers_what_the_api_process_accepts(
    tmp_path: Path,
) -> None:
    async with load_setup(tmp_path) as setup:
        async with _serve(setup, env=DELIVERY_CHILD) as served, setup.client() as client:
            child = served.delivery_pid
            assert child is not None and child != served.process.pid and _alive(child)
            # The API process shows the channels the delivery process logged in.
            await wait_until(lambda: _ready(setup.base), SOON)
            short = await client.send([MOBILE, UNICOM, TELECOM], "您的验证码是1234")
            long = await client.send([MOBILE], "长" * 130)  # 3 segments
            assert short.ok and long.ok
            mids = {i.mid for r in (short, long) for i in r.items}
            reports: list[str] = []
            await _pull_all(client, mids, reports)
            assert Counter(reports) == dict.fromkeys(mids, 1)
            served.process.send_signal(signal.SIGTERM)
            assert await served.process.wait() == 0, setup.log.read_text()
        assert not _alive(child)  # drained and gone with its parent
        assert sum(setup.received().values()) == 4
        assert await _states(setup.url) == {"done": 4}
        assert b"database is locked" not in setup.log.read_bytes()


async def test_a_killed_delivery_process_is_restarted_and_every_message_reported_once(
    tmp_path: Path,
) -> None:
    async with load_setup(tmp_path) as setup:
        async with _serve(setup, env=DELIVERY_CHILD) as served, setup.client() as client:
            first = served.delivery_pid
            assert first is not None
            mids = await send_load(client)
            cmpp = setup.simulators["cmpp"]

            async def under_way() -> bool:
                return len(cmpp.behaviour.received) >= LOAD // 5

            await wait_until(under_way, SOON)
            os.kill(first, signal.SIGKILL)
            sent_before = sum(setup.received().values())
            assert sent_before < LOAD
            # More sends while no delivery process runs: accepted, and delivered later.
            late = await client.send([UNICOM, TELECOM], "您的验证码是5678")
            assert late.ok
            mids |= {i.mid for i in late.items}
            reports: list[str] = []
            await _pull_all(client, mids, reports)
            assert served.process.returncode is None  # the parent kept serving
            assert Counter(reports) == dict.fromkeys(mids, 1)  # one report each
            served.process.send_signal(signal.SIGTERM)
            assert await served.process.wait() == 0, setup.log.read_text()
        received = setup.received()
        assert set(received) >= {f"1380{i:07d}" for i in range(LOAD)}  # nothing lost
        resent = sum(received.values()) - LOAD - 2
        assert resent <= CMPP_WINDOW + WRITE_SLACK, (resent, sent_before)
        assert await _states(setup.url) == {"done": LOAD + 2}
        log = setup.log.read_text()
        assert "restarting it" in log and "database is locked" not in log


async def test_serve_killed_hard_and_started_again_delivers_every_message_once(
    tmp_path: Path,
) -> None:
    async with load_setup(tmp_path) as setup:
        async with _serve(setup, env=DELIVERY_CHILD) as first, setup.client() as client:
            child = first.delivery_pid
            assert child is not None
            mids = await send_load(client)
            cmpp = setup.simulators["cmpp"]

            async def under_way() -> bool:
                return len(cmpp.behaviour.received) >= LOAD // 5

            await wait_until(under_way, SOON)
            os.kill(first.process.pid, signal.SIGKILL)
            assert await first.process.wait() == -signal.SIGKILL
        # Started again at once, while the orphaned delivery process still drains: the new
        # one waits for its lock, then sends the rest.
        async with _serve(setup, env=DELIVERY_CHILD) as second, setup.client() as client:
            assert second.delivery_pid not in (None, child)

            async def orphan_gone() -> bool:  # it let go of the lock as its drain ended
                return not _alive(child)

            await wait_until(orphan_gone, SOON)
            reports: list[str] = []
            await _pull_all(client, mids, reports)
            assert Counter(reports) == dict.fromkeys(mids, 1)
        received = setup.received()
        assert set(received) == {f"1380{i:07d}" for i in range(LOAD)}  # nothing lost
        assert sum(received.values()) - LOAD <= CMPP_WINDOW + WRITE_SLACK


async def test_delivery_keeps_going_when_the_api_process_is_killed(tmp_path: Path) -> None:
    async with load_setup(tmp_path) as setup:
        async with _serve(setup, "--role", "worker", http=False) as worker:
            async with _serve(setup, "--role", "api") as api, setup.client() as client:
                await wait_until(lambda: _ready(setup.base), SOON)  # handing over to the worker
                mids = await send_load(client)
                os.kill(api.process.pid, signal.SIGKILL)
                assert await api.process.wait() == -signal.SIGKILL

            async def all_received() -> bool:
                return len(setup.received()) >= LOAD

            await wait_until(all_received, SOON)  # delivery went on without the API
            assert worker.process.returncode is None
            async with _serve(setup, "--role", "api"), setup.client() as client:
                reports: list[str] = []
                await _pull_all(client, mids, reports)
                assert Counter(reports) == dict.fromkeys(mids, 1)
            worker.process.send_signal(signal.SIGTERM)
            assert await worker.process.wait() == 0, setup.log.read_text()
        assert set(setup.received().values()) == {1}
        assert await _states(setup.url) == {"done": LOAD}


async def test_concurrent_sends_while_delivery_writes_meet_no_locked_database(
    tmp_path: Path,
) -> None:
    async with load_setup(tmp_path) as setup:
        async with _serve(setup, env=DELIVERY_CHILD), setup.client() as client:
            await wait_until(lambda: _ready(setup.base), SOON)
            first = await send_load(client)  # delivery writes submits and reports meanwhile

            async def one(i: int) -> str:
                result = await client.send([f"1390{i:07d}"], "您的验证码是1234")
                assert result.ok, result  # never a 500
                return result.items[0].mid

            singles: list[str] = []
            for start in range(0, 400, 50):
                singles += await asyncio.gather(*(one(i) for i in range(start, start + 50)))
            reports: list[str] = []
            await _pull_all(client, first | set(singles), reports)
            assert Counter(reports) == dict.fromkeys(first | set(singles), 1)
        assert "database is locked" not in setup.log.read_text()


async def test_a_delivery_process_that_cannot_start_stops_serve_with_one_line(
    tmp_path: Path,
) -> None:
    async with load_setup(tmp_path) as setup:
        lock = DeliveryLock(local_paths(str(setup.database)).lock)
        lock.take()  # as a delivery process already running on this database does
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "duanxin.cli", "serve", "--port", str(setup.port),
                env={
                    **os.environ, "DUANXIN_DATABASE_URL": setup.url, **DELIVERY_CHILD,
                    "DUANXIN_SHUTDOWN_GRACE_SECONDS": "0",  # how long it waits for the lock
                },
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            out, err = await asyncio.wait_for(process.communicate(), 90)
        finally:
            lock.release()
        assert process.returncode == 1
        last = err.decode().strip().splitlines()[-1]
        assert "cannot start: the delivery process did not start" in last, last
        assert "another process runs delivery on this database" in last
        assert "Traceback" not in err.decode() and b"serving" not in out
