"""What every protocol server does about connections that do not log in, and about too many
connections from one address: the sans-IO core with a fake clock, then ``serve`` over real
loopback sockets (with the toy protocol of test_session)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from duanxin.protocols.core.aio import SessionProtocol, connect, serve
from duanxin.protocols.core.session import ConnectionClosed, SessionConfig, SessionCore
from duanxin.protocols.core.state import Role, State
from tests.protocols.core.test_session import BIND, RESP, Toy, ToyDialect, bind, wire

LOGIN_TIMEOUT = 5.0


def _server(now: float = 100.0) -> SessionCore[Toy]:
    config = SessionConfig(heartbeat_interval=None, login_timeout=LOGIN_TIMEOUT)
    return SessionCore(ToyDialect(), Role.SERVER, config, now=now)


def test_server_closes_a_connection_that_never_logs_in() -> None:
    server = _server(now=100.0)
    assert server.next_deadline() == 100.0 + LOGIN_TIMEOUT
    assert server.handle_timer(104.9) == []
    assert server.state is State.OPEN
    (closed,) = server.handle_timer(105.0)
    assert isinstance(closed, ConnectionClosed) and "login" in closed.reason
    assert server.state is State.CLOSED


def test_a_login_still_unanswered_at_the_deadline_is_closed_too() -> None:
    server = _server(now=0.0)
    client = SessionCore(ToyDialect(), Role.CLIENT, SessionConfig(heartbeat_interval=None))
    client.send_request(Toy(BIND), 0)
    wire(client, server, 1.0)
    assert server.state is State.BINDING
    (closed,) = server.handle_timer(LOGIN_TIMEOUT)
    assert isinstance(closed, ConnectionClosed)


def test_logged_in_connection_has_no_login_deadline() -> None:
    config = SessionConfig(heartbeat_interval=None, login_timeout=LOGIN_TIMEOUT)
    client = SessionCore(ToyDialect(), Role.CLIENT, config)
    server = SessionCore(ToyDialect(), Role.SERVER, config)
    bind(client, server)
    assert server.next_deadline() is None
    assert server.handle_timer(LOGIN_TIMEOUT * 10) == []
    assert server.state is State.BOUND


def test_clients_and_servers_without_a_login_timeout_wait() -> None:
    client = SessionCore(ToyDialect(), Role.CLIENT, SessionConfig(heartbeat_interval=None))
    assert client.next_deadline() is None
    unbounded = SessionConfig(heartbeat_interval=None, login_timeout=None)
    server = SessionCore(ToyDialect(), Role.SERVER, unbounded)
    assert server.next_deadline() is None


# ------------------------------------------------------------------ real sockets


def _answer_logins(session: SessionProtocol[Toy], pdu: Toy) -> Toy | None:
    return Toy(BIND | RESP, pdu.sequence, b"ok") if pdu.command == BIND else None


@pytest.fixture
def accepted() -> list[SessionProtocol[Toy]]:
    """The server's side of every connection the listener accepted, in order."""
    return []


@pytest.fixture
async def port(accepted: list[SessionProtocol[Toy]]) -> AsyncIterator[int]:
    config = SessionConfig(heartbeat_interval=None, login_timeout=0.2)

    def session() -> SessionProtocol[Toy]:
        accepted.append(SessionProtocol(ToyDialect(), Role.SERVER, _answer_logins, config))
        return accepted[-1]

    listener = await serve("127.0.0.1", 0, session, max_per_address=3)
    yield int(listener.sockets[0].getsockname()[1])
    listener.close()
    await listener.wait_closed()


def _closed_by_server(sock: socket.socket) -> bool:
    """Block until the server closes (True) or the socket times out (False)."""
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False


async def test_connection_that_never_logs_in_is_closed(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        assert await asyncio.to_thread(_closed_by_server, sock)


async def test_connection_over_the_per_address_cap_is_closed(
    port: int, accepted: list[SessionProtocol[Toy]]
) -> None:
    sessions = [await connect("127.0.0.1", port, ToyDialect(), _answer_logins) for _ in range(3)]
    try:
        for session in sessions:  # accepted, counted and logged in
            await session.request(Toy(BIND))
        admitted_ones = [session.closed for session in accepted]
        extra = await connect("127.0.0.1", port, ToyDialect(), _answer_logins)
        reason = await asyncio.wait_for(extra.closed, 5)
        assert "lost" in reason
        sessions.pop().abort()
        # A slot is free once the server saw the close.
        await asyncio.wait(admitted_ones, timeout=5, return_when=asyncio.FIRST_COMPLETED)

        async def admitted() -> bool:
            session = await connect("127.0.0.1", port, ToyDialect(), _answer_logins)
            try:
                await asyncio.wait_for(session.request(Toy(BIND)), 5)
                return True
            except ConnectionError:
                return False
            finally:
                session.abort()

        assert await admitted()
    finally:
        for session in sessions:
            session.abort()
