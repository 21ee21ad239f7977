"""The shared sans-IO session, driven with a fake clock and a toy protocol.

The toy protocol is the smallest thing with the shape of the real ones: a 4-byte length,
a 1-byte command, a 4-byte sequence, a payload; responses have the top bit set.
"""

from __future__ import annotations

import struct
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, replace

import pytest

from duanxin.protocols.core.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from duanxin.protocols.core.framing import LengthPrefixedFramer
from duanxin.protocols.core.sequence import SequenceCounter
from duanxin.protocols.core.session import (
    ConnectionClosed,
    LateResponse,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
    SessionConfig,
    SessionCore,
)
from duanxin.protocols.core.state import Direction, Kind, Role, State

BIND, DATA, PING, BYE, RESP = 1, 2, 3, 4, 0x80
HEADER = struct.Struct(">IBI")


@dataclass(frozen=True)
class Toy:
    command: int
    sequence: int = 0
    payload: bytes = b""


class ToyDecoder:
    def __init__(self) -> None:
        self._framer = LengthPrefixedFramer(min_length=HEADER.size, max_length=64)

    def feed(self, data: bytes) -> None:
        self._framer.feed(data)

    def pdus(self) -> Iterator[Toy]:
        for frame in self._framer.frames():
            _, command, sequence = HEADER.unpack_from(frame)
            yield Toy(command, sequence, frame[HEADER.size :])


class ToyDialect:
    def __init__(self) -> None:
        self.decoder = ToyDecoder()
        self._sequence = SequenceCounter(first=1, last=3)

    def encode(self, pdu: Toy) -> bytes:
        return HEADER.pack(HEADER.size + len(pdu.payload), pdu.command, pdu.sequence) + pdu.payload

    def kind(self, pdu: Toy) -> Kind:
        base, response = pdu.command & 0x7F, bool(pdu.command & RESP)
        if base == BIND:
            if not response:
                return Kind.BIND
            return Kind.BIND_OK if pdu.payload == b"ok" else Kind.BIND_REFUSED
        if base == PING:
            return Kind.HEARTBEAT_RESP if response else Kind.HEARTBEAT
        if base == BYE:
            return Kind.UNBIND_RESP if response else Kind.UNBIND
        return Kind.RESPONSE if response else Kind.REQUEST

    def sequence(self, pdu: Toy) -> Hashable:
        return pdu.sequence

    def with_next_sequence(self, pdu: Toy) -> Toy:
        return replace(pdu, sequence=self._sequence())

    def heartbeat(self) -> Toy:
        return Toy(PING)

    def answer(self, request: Toy) -> Toy | None:
        if request.command in (PING, BYE):
            return Toy(request.command | RESP, request.sequence)
        return None

    def unbind(self) -> Toy:
        return Toy(BYE)

    def observe(self, pdu: Toy, direction: Direction) -> None:
        return None

    def reject(self, error: ProtocolError) -> Toy | None:
        return Toy(RESP, 0, b"nack")


def pair(config: SessionConfig | None = None) -> tuple[SessionCore[Toy], SessionCore[Toy]]:
    config = config or SessionConfig(window=2, response_timeout=10, heartbeat_interval=30)
    return (
        SessionCore(ToyDialect(), Role.CLIENT, config),
        SessionCore(ToyDialect(), Role.SERVER, config),
    )


def wire(sender: SessionCore[Toy], receiver: SessionCore[Toy], now: float) -> list[object]:
    return list(receiver.receive_data(sender.data_to_send(), now))


def bind(client: SessionCore[Toy], server: SessionCore[Toy]) -> None:
    client.send_request(Toy(BIND), 0)
    (event,) = wire(client, server, 0)
    assert isinstance(event, RequestReceived)
    server.send_response(Toy(BIND | RESP, event.pdu.sequence, b"ok"), 0)
    wire(server, client, 0)
    assert client.state is server.state is State.BOUND


def test_login_then_traffic_matches_responses_by_sequence() -> None:
    client, server = pair()
    bind(client, server)
    sent = client.send_request(Toy(DATA, payload=b"hi"), 1)
    (request,) = wire(client, server, 1)
    assert isinstance(request, RequestReceived)
    server.send_response(Toy(DATA | RESP, request.pdu.sequence, b"id-1"), 1)
    (response,) = wire(server, client, 1)
    assert response == ResponseReceived(sent, Toy(DATA | RESP, sent.sequence, b"id-1"))


def test_traffic_before_login_closes_the_connection_with_an_error_answer() -> None:
    client, server = pair()
    client.state = State.BOUND  # a misbehaving peer that skips the login
    client.send_request(Toy(DATA), 0)
    (event,) = wire(client, server, 0)
    assert isinstance(event, ConnectionClosed)
    assert isinstance(event.error, RemoteProtocolError)
    assert server.state is State.CLOSED
    assert server.data_to_send() == ToyDialect().encode(Toy(RESP, 0, b"nack"))


def test_window_refuses_a_request_beyond_its_size() -> None:
    client, server = pair()
    bind(client, server)
    client.send_request(Toy(DATA), 0)
    client.send_request(Toy(DATA), 0)
    assert client.window_available == 0
    with pytest.raises(LocalProtocolError):
        client.send_request(Toy(DATA), 0)


def test_an_answer_after_the_request_was_given_up_is_still_reported() -> None:
    client, server = pair(SessionConfig(window=4, response_timeout=10, max_attempts=2))
    bind(client, server)
    sent = client.send_request(Toy(DATA), 0, tag="message-1")
    client.data_to_send()
    client.handle_timer(10)
    client.data_to_send()
    assert client.handle_timer(20) == [RequestFailed(sent, "no response")]
    late = Toy(DATA | RESP, sent.sequence, b"id-1")
    server.send_response(late, 25)
    assert wire(server, client, 25) == [LateResponse(sent, late, "message-1")]
    assert client.in_flight == 0  # the window is not charged for it


def test_answers_to_resent_copies_are_reported_after_the_first() -> None:
    client, server = pair(SessionConfig(window=4, response_timeout=10, max_attempts=3))
    bind(client, server)
    sent = client.send_request(Toy(DATA), 0, tag="m")
    client.handle_timer(10)  # resent: the peer now holds two copies
    copies = [e for e in wire(client, server, 10) if isinstance(e, RequestReceived)]
    assert len(copies) == 2
    first, second = (Toy(DATA | RESP, sent.sequence, p) for p in (b"id-1", b"id-2"))
    server.send_response(first, 11)
    server.send_response(second, 11)
    assert wire(server, client, 11) == [
        ResponseReceived(sent, first),
        LateResponse(sent, second, "m"),
    ]


def test_an_unexpected_answer_is_still_ignored() -> None:
    client, server = pair()
    bind(client, server)
    server.send_response(Toy(DATA | RESP, 3, b"stray"), 1)
    assert wire(server, client, 1) == []


def test_unanswered_request_is_resent_then_given_up() -> None:
    client, server = pair(SessionConfig(window=4, response_timeout=10, max_attempts=2))
    bind(client, server)
    sent = client.send_request(Toy(DATA), 0)
    client.data_to_send()
    assert client.next_deadline() == 10
    assert client.handle_timer(10) == []
    assert client.data_to_send() == ToyDialect().encode(sent)  # resent as it was
    assert client.handle_timer(20) == [RequestFailed(sent, "no response")]
    assert client.in_flight == 0


def test_unanswered_login_is_given_up_after_one_timeout_not_resent() -> None:
    client, _ = pair(SessionConfig(response_timeout=10, max_attempts=3, heartbeat_interval=None))
    sent = client.send_request(Toy(BIND), 0)
    client.data_to_send()
    assert client.next_deadline() == 10
    assert client.handle_timer(10) == [RequestFailed(sent, "no response")]
    assert client.data_to_send() == b""


def test_idle_link_sends_heartbeats_and_dies_when_they_go_unanswered() -> None:
    client, server = pair()
    bind(client, server)
    assert client.next_deadline() == 30
    client.handle_timer(30)
    assert wire(client, server, 30) == []  # the server answers heartbeats itself
    assert wire(server, client, 30) == []
    assert client.state is State.BOUND
    # From now on the peer is silent: three more heartbeats, then the link is declared dead.
    events: list[object] = []
    now = 30.0
    while client.state is State.BOUND:
        deadline = client.next_deadline()
        assert deadline is not None
        now = deadline
        events += client.handle_timer(now)
    assert isinstance(events[-1], ConnectionClosed)
    assert now == pytest.approx(30 + 30 * 4)


def test_graceful_logout_closes_both_sides() -> None:
    client, server = pair()
    bind(client, server)
    client.start_unbind(5)
    (closed_server,) = wire(client, server, 5)
    assert isinstance(closed_server, ConnectionClosed)
    (closed_client,) = wire(server, client, 5)
    assert isinstance(closed_client, ConnectionClosed)
    assert client.state is server.state is State.CLOSED


def test_refused_login_closes() -> None:
    client, server = pair()
    client.send_request(Toy(BIND), 0)
    (event,) = wire(client, server, 0)
    assert isinstance(event, RequestReceived)
    server.send_response(Toy(BIND | RESP, event.pdu.sequence, b"no"), 0)
    events = wire(server, client, 0)
    assert isinstance(events[-1], ConnectionClosed)
    assert client.state is server.state is State.CLOSED


def test_sequence_numbers_wrap_around() -> None:
    counter = SequenceCounter(first=1, last=3)
    assert [counter() for _ in range(7)] == [1, 2, 3, 1, 2, 3, 1]


def test_oversized_frame_is_refused_before_buffering() -> None:
    _, server = pair()
    events = server.receive_data(struct.pack(">I", 10_000), 0)
    assert isinstance(events[-1], ConnectionClosed)
    assert server.state is State.CLOSED
