"""The asyncio adapter over real loopback sockets, with the toy protocol of test_session."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, field

import pytest

from duanxin.protocols.core.aio import SessionClosed, SessionProtocol, connect, serve
from duanxin.protocols.core.sequence import SequenceCounter
from duanxin.protocols.core.session import SessionConfig
from duanxin.protocols.core.state import Role
from tests.protocols.core.test_session import BIND, DATA, RESP, Toy, ToyDialect


class WideDialect(ToyDialect):
    def __init__(self) -> None:
        super().__init__()
        self._sequence = SequenceCounter(first=1, last=10_000)


@dataclass
class HoldingServer:
    """Answers logins at once and DATA requests only when the test releases them."""

    received: list[bytes] = field(default_factory=list)
    held: list[tuple[Toy, asyncio.Future[Toy]]] = field(default_factory=list)
    most_held: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def handle(self, session: SessionProtocol[Toy], pdu: Toy) -> Awaitable[Toy] | Toy | None:
        if pdu.command == BIND:
            return Toy(BIND | RESP, pdu.sequence, b"ok")
        self.received.append(pdu.payload)
        answer: asyncio.Future[Toy] = asyncio.get_running_loop().create_future()
        self.held.append((pdu, answer))
        self.most_held = max(self.most_held, len(self.held))
        self.arrived.set()
        return answer

    async def release_oldest(self) -> None:
        while not self.held:
            self.arrived.clear()
            await asyncio.wait_for(self.arrived.wait(), 5)
        request, answer = self.held.pop(0)
        answer.set_result(Toy(DATA | RESP, request.sequence, b"done"))


@pytest.fixture
async def server() -> AsyncIterator[tuple[HoldingServer, int]]:
    holding = HoldingServer()
    listener = await serve(
        "127.0.0.1",
        0,
        lambda: SessionProtocol(WideDialect(), Role.SERVER, holding.handle, SessionConfig()),
    )
    yield holding, listener.sockets[0].getsockname()[1]
    listener.close()
    await listener.wait_closed()


async def client_of(port: int, window: int) -> SessionProtocol[Toy]:
    client: SessionProtocol[Toy] = await connect(
        "127.0.0.1", port, WideDialect(), lambda s, p: None, SessionConfig(window=window)
    )
    await client.request(Toy(BIND))
    return client


async def test_window_slots_go_to_waiters_first_come_first_served(
    server: tuple[HoldingServer, int],
) -> None:
    holding, port = server
    client = await client_of(port, window=2)

    first = client.send_request(Toy(DATA, payload=b"0"))

    async def then_again() -> None:
        await first
        # Submitting again at once must not overtake the requests already waiting.
        await client.request(Toy(DATA, payload=b"again"))

    tasks = [asyncio.ensure_future(first), asyncio.create_task(then_again())]
    tasks += [client.send_request(Toy(DATA, payload=name)) for name in (b"1", b"2", b"3", b"4")]
    for _ in range(6):
        await holding.release_oldest()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert holding.received == [b"0", b"1", b"2", b"3", b"4", b"again"]
    assert holding.most_held == 2
    client.abort()


async def test_a_request_cancelled_while_waiting_is_never_sent(
    server: tuple[HoldingServer, int],
) -> None:
    holding, port = server
    client = await client_of(port, window=1)
    first = client.send_request(Toy(DATA, payload=b"first"))
    second = client.send_request(Toy(DATA, payload=b"second"))
    third = client.send_request(Toy(DATA, payload=b"third"))
    second.cancel()
    await holding.release_oldest()
    await first
    await holding.release_oldest()
    assert (await asyncio.wait_for(third, 5)).payload == b"done"
    assert second.cancelled()
    assert holding.received == [b"first", b"third"]
    client.abort()


async def test_send_request_fails_its_future_when_the_session_closes(
    server: tuple[HoldingServer, int],
) -> None:
    _, port = server
    client = await client_of(port, window=1)
    sent = client.send_request(Toy(DATA, payload=b"sent"))
    waiting = client.send_request(Toy(DATA, payload=b"waiting"))
    client.abort()
    for future in (sent, waiting):
        with pytest.raises(SessionClosed):
            await future
    with pytest.raises(SessionClosed):
        await client.send_request(Toy(DATA))


async def test_requests_waiting_for_the_window_fail_once_the_session_logs_out(
    server: tuple[HoldingServer, int],
) -> None:
    holding, port = server
    client = await client_of(port, window=1)
    sent = client.send_request(Toy(DATA, payload=b"sent"))
    waiting = client.send_request(Toy(DATA, payload=b"waiting"))
    logging_out = asyncio.create_task(client.unbind())
    # The link is going: what waits is given back at once (to go on another link), not
    # sent on it as a response frees the window, nor held until the connection closes.
    with pytest.raises(SessionClosed, match="logging out"):
        await asyncio.wait_for(waiting, 5)
    with pytest.raises(SessionClosed, match="logging out"):
        await client.send_request(Toy(DATA, payload=b"later"))
    await asyncio.wait_for(logging_out, 10)
    assert holding.received == [b"sent"]
    with pytest.raises(SessionClosed):  # the one in flight: the link closed under it
        await sent


async def test_a_session_closed_before_its_connection_arrives_closes_that_connection() -> None:
    """A listener closing drops its links; one accepted in that instant, whose session was
    aborted before the connection reached it, must not stay open."""
    ours, theirs = socket.socketpair()
    session = SessionProtocol(WideDialect(), Role.SERVER, lambda s, p: None, SessionConfig())
    session.abort("the listener is closed")
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(lambda: session, ours)
    reader, writer = await asyncio.open_connection(sock=theirs)
    assert await asyncio.wait_for(reader.read(), 5) == b""  # closed from our side
    assert transport.is_closing()
    writer.close()
    await writer.wait_closed()
