"""Every simulated gateway closes connections that do not log in, and refuses more than its
cap from one address (built once in ``protocols.core``), over real loopback sockets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable

import pytest

from duanxin.simulator.core import SimulatorConfig, SimulatorServer
from duanxin.simulator.registry import PROTOCOLS, create_simulator

Start = Callable[[float], contextlib.AbstractAsyncContextManager[SimulatorServer]]


@pytest.fixture(params=PROTOCOLS)
def start(request: pytest.FixtureRequest) -> Start:
    @contextlib.asynccontextmanager
    async def running(login_timeout: float) -> AsyncIterator[SimulatorServer]:
        config = SimulatorConfig(port=0, login_timeout=login_timeout, max_connections_per_address=2)
        server = create_simulator(request.param, config)
        await server.start()
        try:
            yield server
        finally:
            await server.stop()

    return running


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


async def test_connection_that_never_logs_in_is_closed(start: Start) -> None:
    async with start(0.2) as simulator:
        with socket.create_connection(("127.0.0.1", simulator.port), timeout=10) as sock:
            assert await asyncio.to_thread(_closed_by_server, sock)


async def test_third_connection_from_one_address_is_closed(start: Start) -> None:
    async with start(60.0) as simulator:  # only the cap can close it within the test
        address = ("127.0.0.1", simulator.port)
        held = [socket.create_connection(address, timeout=10) for _ in range(2)]
        try:
            with socket.create_connection(address, timeout=10) as third:
                assert await asyncio.to_thread(_closed_by_server, third)
        finally:
            for sock in held:
                sock.close()
