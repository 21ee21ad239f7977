"""The CMPP dialect inside the sans-IO session core: two cores on a fake wire, a fake clock."""

from __future__ import annotations

from datetime import datetime

from duanxin.protocols.cmpp import (
    CmppActiveTest,
    CmppConnect,
    CmppConnectResp,
    CmppConnectStatus,
    CmppDialect,
    CmppSubmit,
    CmppSubmitResp,
    CmppVersion,
    Pdu,
    connect_request,
    connect_response,
    encode,
)
from duanxin.protocols.cmpp.codec import FrameError
from duanxin.protocols.core.session import (
    ConnectionClosed,
    RequestReceived,
    ResponseReceived,
    SessionConfig,
    SessionCore,
)
from duanxin.protocols.core.state import Role, State

SP_ID, SECRET = "901234", "secret"
WHEN = datetime(2025, 11, 28, 14, 30, 15)


def pair(version: int) -> tuple[SessionCore[Pdu], SessionCore[Pdu]]:
    config = SessionConfig(heartbeat_interval=10.0, response_timeout=5.0)
    client: SessionCore[Pdu] = SessionCore(CmppDialect(version), Role.CLIENT, config)
    server: SessionCore[Pdu] = SessionCore(CmppDialect(), Role.SERVER, config)
    return client, server


def login(client: SessionCore[Pdu], server: SessionCore[Pdu], version: int) -> None:
    client.send_request(connect_request(SP_ID, SECRET, WHEN, version), 0.0)
    (event,) = server.receive_data(client.data_to_send(), 0.0)
    assert isinstance(event, RequestReceived) and isinstance(event.pdu, CmppConnect)
    server.send_response(connect_response(event.pdu, CmppConnectStatus.OK, SECRET), 0.0)
    (answer,) = client.receive_data(server.data_to_send(), 0.0)
    assert isinstance(answer, ResponseReceived)
    assert client.state is State.BOUND and server.state is State.BOUND


def test_server_learns_the_version_from_connect() -> None:
    client, server = pair(0x21)
    login(client, server, 0x21)
    server_dialect = server.dialect
    assert isinstance(server_dialect, CmppDialect)
    assert server_dialect.version is CmppVersion.V20
    client.send_request(
        CmppSubmit(version=CmppVersion.V20, dest_terminal_ids=("13800138000",)), 0.0
    )
    (event,) = server.receive_data(client.data_to_send(), 0.0)
    assert isinstance(event, RequestReceived) and isinstance(event.pdu, CmppSubmit)
    assert event.pdu.version is CmppVersion.V20
    server.send_response(
        CmppSubmitResp(sequence_id=event.pdu.sequence_id, version=CmppVersion.V20, msg_id=7), 0.0
    )
    (answer,) = client.receive_data(server.data_to_send(), 0.0)
    assert isinstance(answer, ResponseReceived)
    assert answer.response == CmppSubmitResp(
        sequence_id=event.pdu.sequence_id, version=CmppVersion.V20, msg_id=7
    )


def test_idle_client_sends_active_test_and_the_server_answers() -> None:
    client, server = pair(0x30)
    login(client, server, 0x30)
    assert client.next_deadline() == 10.0
    client.handle_timer(10.0)
    heartbeat = client.data_to_send()
    assert heartbeat[4:8] == b"\x00\x00\x00\x08"
    assert server.receive_data(heartbeat, 10.0) == []  # answered by the dialect itself
    assert client.receive_data(server.data_to_send(), 10.0) == []
    assert client.in_flight == 0 and client.state is State.BOUND


def test_terminate_from_the_server_closes_both_sides() -> None:
    client, server = pair(0x30)
    login(client, server, 0x30)
    server.start_unbind(1.0)
    (closed,) = client.receive_data(server.data_to_send(), 1.0)
    assert isinstance(closed, ConnectionClosed) and client.state is State.CLOSED
    (done,) = server.receive_data(client.data_to_send(), 1.0)
    assert isinstance(done, ConnectionClosed) and server.state is State.CLOSED


def test_malformed_connect_is_answered_with_bad_structure() -> None:
    _, server = pair(0x30)
    wire = bytearray(encode(connect_request(SP_ID, SECRET, WHEN)))
    del wire[-1]
    wire[3] -= 1
    (closed,) = server.receive_data(bytes(wire), 0.0)
    assert isinstance(closed, ConnectionClosed)
    assert isinstance(closed.error, FrameError)
    assert server.state is State.CLOSED
    answer = server.data_to_send()
    assert answer == encode(CmppConnectResp(sequence_id=0, status=CmppConnectStatus.BAD_STRUCTURE))


def test_sequence_wraps_to_one() -> None:
    dialect = CmppDialect(first_sequence=0xFFFFFFFF)
    assert dialect.with_next_sequence(CmppActiveTest()).sequence_id == 0xFFFFFFFF
    assert dialect.with_next_sequence(CmppActiveTest()).sequence_id == 1
