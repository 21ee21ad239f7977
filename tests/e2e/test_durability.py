"""A message accepted with status 0 is never lost (SPEC 2.4, 5), not even on a SIGKILL;
after any stop a restarted process sends what is left at once.

The platform runs in a subprocess (``platform_process.py``) on a SQLite file, in front of
simulators that live in the test process and so outlive it; what the carrier received is
counted there. First: a process serving the API only is killed with SIGKILL once the sends
are answered; a second process on the same file, with delivery, must submit every accepted
message exactly once and report each exactly once. Then SIGTERM in the middle of a load
(drained: nothing left claimed) and SIGKILL in the middle of one, each followed by a restart
that must send the rest within seconds.
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
from tests.conftest import wait_until
from tests.e2e.helpers import MOBILE, TELECOM, UNICOM, in_future
from tests.e2e.load import CMPP_WINDOW, HOST, LOAD, WRITE_SLACK, Load, load_setup, send_load

SCRIPT = Path(__file__).with_name("platform_process.py")


@asynccontextmanager
async def platform_process(
    database: Path, port: int, role: str, log: Path, *, grace: float = 10.0
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
            "--grace",
            str(grace),
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
    await wait_until(predicate, timeout)


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


GRACE = 30.0
# "Within seconds": the rest of the load takes about two at the channel's TPS; the bound is
# loose for a busy machine, and far below the ten-minute claim lease of before.
SOON = 30.0


async def _claims(url: str) -> tuple[Counter[str], int]:
    """States of all messages, and how many queued ones wait for a time (not due at once)."""
    platform = Platform.open(Settings(database_url=url))
    try:
        async with platform.engine.connect() as conn:
            rows = (await conn.execute(select(messages.c.state, messages.c.not_before))).all()
    finally:
        await platform.close()
    waiting = sum(1 for state, not_before in rows if state == "queued" and not_before)
    return Counter(state for state, _ in rows), waiting


async def _restart_and_finish(load: Load, mids: set[str]) -> tuple[float, list[str]]:
    """Start a process again; the seconds until the carrier has every message, and the
    reports pulled until every accepted message has one."""
    async with platform_process(load.database, load.port, "all", load.log), load.client() as c:
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def all_received() -> bool:
            return len(load.received()) >= LOAD

        await _wait(all_received, timeout=SOON + 10)
        elapsed = loop.time() - started
        reports: list[str] = []

        async def all_reported() -> bool:
            pulled = await c.reports(10000)
            reports.extend(r.mid for r in pulled)
            return set(reports) >= mids

        # The carrier keeps the reports it could not deliver while no link was up.
        await _wait(all_reported)
    assert set(reports) == mids
    return elapsed, reports


async def test_sigterm_drains_and_a_restart_sends_the_rest_at_once(tmp_path: Path) -> None:
    async with load_setup(tmp_path) as load:
        async with (
            platform_process(load.database, load.port, "all", load.log, grace=GRACE) as first,
            load.client() as client,
        ):
            mids = await send_load(client)

            async def under_way() -> bool:
                return len(load.cmpp.behaviour.received) >= LOAD // 10

            await _wait(under_way)
            first.send_signal(signal.SIGTERM)
            loop = asyncio.get_running_loop()
            asked = loop.time()
            assert await first.wait() == 0, load.log.read_text()
            stopped_in = loop.time() - asked
        sent_before = load.received()
        assert 0 < sum(sent_before.values()) < LOAD
        # Not the whole grace period: only submits on the wire are waited for, and they are
        # answered at once; nor did the stop send the rest of the load first.
        assert stopped_in < GRACE / 2, stopped_in
        states, waiting = await _claims(load.url)
        assert "submitting" not in states, states  # every claim given back
        assert waiting == 0  # and due at once
        assert states["queued"] == LOAD - sum(sent_before.values())

        elapsed, reports = await _restart_and_finish(load, mids)
        assert elapsed < SOON, elapsed  # not after the ten-minute claim lease
        received = load.received()
        assert sum(received.values()) == LOAD and set(received.values()) == {1}  # exactly once
        assert max(Counter(reports).values()) == 1


async def test_sigkill_in_a_burst_loses_nothing_and_resends_at_most_the_window(
    tmp_path: Path,
) -> None:
    async with load_setup(tmp_path) as load:
        async with (
            platform_process(load.database, load.port, "all", load.log) as first,
            load.client() as client,
        ):
            mids = await send_load(client)

            async def under_way() -> bool:
                return len(load.cmpp.behaviour.received) >= LOAD // 5

            await _wait(under_way)
            kill_hard(first)
            assert await first.wait() == -signal.SIGKILL
        sent_before = sum(load.received().values())
        assert sent_before < LOAD
        states, _ = await _claims(load.url)
        stored = states["submitted"] + states["done"]

        elapsed, reports = await _restart_and_finish(load, mids)
        assert elapsed < SOON, elapsed
        received = load.received()
        assert set(received) == {f"1380{i:07d}" for i in range(LOAD)}  # nothing lost
        resent = sum(received.values()) - LOAD
        # Sent again: only what had no stored submit response at the kill — the window's
        # worth, plus the responses still in the write-behind batch; not the whole burst.
        assert resent <= sent_before - stored, (resent, sent_before, stored)
        assert resent <= CMPP_WINDOW + WRITE_SLACK, (resent, sent_before, stored)
        assert max(Counter(reports).values()) == 1


async def test_sigterm_waits_for_submits_on_the_wire_and_stores_their_responses(
    tmp_path: Path,
) -> None:
    async with load_setup(tmp_path) as load:
        cmpp = load.cmpp
        async with (
            platform_process(load.database, load.port, "all", load.log, grace=GRACE) as first,
            load.client() as client,
        ):
            mids = await send_load(client)

            async def under_way() -> bool:
                return len(cmpp.behaviour.received) >= LOAD // 10

            await _wait(under_way)
            cmpp.pause_submits()  # type: ignore[attr-defined]

            async def window_full() -> bool:
                return bool(cmpp.submits_in_flight == CMPP_WINDOW)  # type: ignore[attr-defined]

            await _wait(window_full)
            first.send_signal(signal.SIGTERM)

            async def listener_closed() -> bool:
                try:
                    _reader, writer = await asyncio.open_connection(HOST, load.port)
                except OSError:
                    return True
                writer.close()
                return False

            await _wait(listener_closed)  # the drain has begun ...
            assert first.returncode is None  # ... and waits for the window's responses
            cmpp.resume_submits()  # type: ignore[attr-defined]
            assert await first.wait() == 0, load.log.read_text()
        states, waiting = await _claims(load.url)
        assert "submitting" not in states and waiting == 0
        # What the carrier answered during the drain was stored, so it is not sent again.
        assert states["submitted"] + states["done"] == sum(load.received().values())

        await _restart_and_finish(load, mids)
        received = load.received()
        assert sum(received.values()) == LOAD and set(received.values()) == {1}
