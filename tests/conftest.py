"""Fixtures shared by the whole suite: real servers on ephemeral ports, real databases."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from duanxin.client import AsyncClient
from duanxin.config import Settings
from duanxin.demo import DemoFacts, demo_stack
from duanxin.runtime import RunningPlatform
from duanxin.service import console_auth
from duanxin.simulator.core import SimulatorServer

# Every platform the suite starts encrypts its stored secrets with this key (subprocesses
# inherit it); no settings file of the directory the suite runs in is read.
os.environ.setdefault("DUANXIN_ENCRYPTION_KEY", "x1I7qBzc-0bYgUW6pZ3fhdTGc9gZ0JY2Wc5G8Jb5lMk=")
os.environ.pop("DUANXIN_CONFIG", None)

POSTGRES_ADMIN_URL = os.environ.get(
    "DUANXIN_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_SERVICES = os.environ.get("DUANXIN_REQUIRE_SERVICES") == "1"
TEST_REPORT_DELAY = 0.05
# The customer CMPP/SMPP servers default to fixed ports (7890, 2775): off in tests unless a
# test asks for them (demo_stack and tests/access start them on free ports).
os.environ.setdefault("DUANXIN_ACCESS_CMPP_PORT", "0")
os.environ.setdefault("DUANXIN_ACCESS_SMPP_PORT", "0")

# Operator passwords are argon2 hashes at argon2's default cost, about 0.3 s of CPU each:
# the platforms of this process hash hundreds (an operator per demo stack, every console
# sign-in), and what is tested (a hash is stored, the right password signs in, a wrong or
# unknown one does not) does not depend on the cost. Still argon2 here, at the least cost.
console_auth._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@dataclass
class Stack:
    """A running platform with the three demo simulators behind it."""

    facts: DemoFacts
    running: RunningPlatform
    simulators: dict[str, SimulatorServer]

    def client(self, **overrides: str) -> AsyncClient:
        values = {
            "secret_id": self.facts.secret_id,
            "secret_key": self.facts.secret_key,
            "account": self.facts.account,
            "password": self.facts.password,
            **overrides,
        }
        return AsyncClient(self.facts.url, **values)

    async def wait_for(self, predicate: object, timeout: float = 10.0) -> None:
        """Poll an async predicate until it is true (no fixed sleeps in tests)."""
        await wait_until(predicate, timeout)


async def wait_until(predicate: object, timeout: float = 10.0) -> None:
    """Poll an async predicate (a state in another process, say) until it is true."""
    assert callable(predicate)
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait until ``condition`` holds (a loopback peer's state), checking as the loop runs."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def poll_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Outside an event loop: check ``condition`` (a state behind a blocking client) until
    it holds, for up to ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """The demo platform on SQLite: simulators for CMPP, SGIP and SMGP, a demo account."""
    async with demo_stack("127.0.0.1", 0, tmp_path, report_delay=TEST_REPORT_DELAY) as (
        facts,
        running,
        simulators,
    ):
        yield Stack(facts, running, simulators)


def _postgres_available() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards)."""
    if not _postgres_available():
        if REQUIRE_SERVICES:
            pytest.fail("PostgreSQL is not answering on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not answering on 127.0.0.1:5432")
    import asyncpg

    name = f"duanxin_test_{uuid.uuid4().hex[:12]}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def redis_url() -> str:
    """The local Redis (tests use their own key prefix)."""
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            pass
    except OSError:
        if REQUIRE_SERVICES:
            pytest.fail("Redis is not answering on 127.0.0.1:6379")
        pytest.skip("Redis is not answering on 127.0.0.1:6379")
    return "redis://127.0.0.1:6379/0"


class RedisServer:
    """A redis-server of the test's own on a free port, without persistence, that the test
    may stop and start again (same port, empty again, as after losing an unsaved server)."""

    def __init__(self, binary: str, port: int) -> None:
        self.binary = binary
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self._process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        process = self._process

        async def accepting() -> bool:
            assert process.returncode is None, "redis-server exited"
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                return False
            writer.close()
            await writer.wait_closed()
            return True

        await wait_until(accepting, 10)

    async def stop(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        self._process = None


@pytest.fixture
async def redis_server() -> AsyncIterator[RedisServer]:
    """A Redis server of this test's own (the ``redis-server`` binary must be installed)."""
    import shutil

    from duanxin.runtime import free_port

    binary = shutil.which("redis-server")
    if binary is None:
        if REQUIRE_SERVICES:
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    server = RedisServer(binary, free_port())
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL for store tests: a SQLite file, then the real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'duanxin.db'}")
