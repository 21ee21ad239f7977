"""Each protocol's session on the shared in-memory pair (tests/protocols/pair.py): logins,
bind modes, heartbeats, response timeouts and SGIP's idle logout, on a fake clock."""

from __future__ import annotations

from datetime import datetime

import pytest

from duanxin.protocols import cmpp, sgip, smgp, smpp
from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.session import (
    ConnectionClosed,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
    SessionConfig,
)
from duanxin.protocols.core.state import Role, State
from tests.protocols.pair import Pair

WHEN = datetime(2026, 11, 28, 12, 0, 0)


def _clock() -> datetime:
    return WHEN


def test_cmpp_login_then_heartbeats_answered_by_the_core() -> None:
    pair = Pair.of(cmpp.CmppDialect(), cmpp.CmppDialect(), SessionConfig(heartbeat_interval=180))
    connect = pair.request(cmpp.connect_request("901234", "secret", WHEN))
    (received,) = pair.server_events
    assert received == RequestReceived(connect)
    pair.server.send_response(cmpp.connect_response(connect, 0, "secret"), pair.now)
    pair.flush()
    assert pair.client.state is pair.server.state is State.BOUND
    pair.advance(180 * 3)  # idle: each heartbeat is answered, the link stays
    assert pair.client.state is State.BOUND
    assert not any(isinstance(e, ConnectionClosed) for e in pair.client_events)


def sgip_pair(config: SessionConfig) -> Pair[sgip.Pdu]:
    """A bound SGIP pair (used by the SGIP session tests too)."""
    pair = Pair.of(sgip.SgipDialect(3000001, _clock), sgip.SgipDialect(1, _clock), config)
    bind = pair.request(sgip.Bind(login_name="sp", login_password="pw"))
    pair.server.send_response(sgip.BindResp(sequence=bind.sequence), pair.now)
    pair.flush()
    assert pair.client.state is State.BOUND
    return pair


def test_sgip_idle_link_is_logged_out_by_the_core_timer() -> None:
    pair = sgip_pair(SessionConfig(heartbeat_interval=None, idle_timeout=50))
    pair.advance(49)
    assert pair.client.state is State.BOUND
    pair.advance(2)
    assert pair.client.state is pair.server.state is State.CLOSED
    assert pair.client.idle_closed
    assert pair.client_events[-1] == ConnectionClosed("logged out")
    assert pair.server_events[-1] == ConnectionClosed("peer logged out")


def test_sgip_traffic_keeps_an_idle_timer_away() -> None:
    pair = sgip_pair(SessionConfig(heartbeat_interval=None, idle_timeout=50))
    for _ in range(3):
        pair.advance(40)
        submit = pair.request(sgip.Submit(user_numbers=("8613800138000",)))
        pair.server.send_response(sgip.SubmitResp(sequence=submit.sequence), pair.now)
        pair.flush()
    assert pair.client.state is State.BOUND and not pair.client.idle_closed


@pytest.mark.parametrize(
    ("mode", "client_may_submit", "server_may_deliver"),
    [
        (smgp.LoginMode.SEND, True, False),
        (smgp.LoginMode.RECEIVE, False, True),
        (smgp.LoginMode.TRANSMIT, True, True),
    ],
)
def test_smgp_login_modes_decide_who_may_send(
    mode: int, client_may_submit: bool, server_may_deliver: bool
) -> None:
    pair = Pair.of(smgp.SmgpDialect(), smgp.SmgpDialect())
    login = pair.request(smgp.build_login("10690", "secret", WHEN, login_mode=mode))
    pair.server.send_response(smgp.login_response(login, "secret", 0), pair.now)
    pair.flush()
    assert pair.server.state is State.BOUND
    for core, request, allowed in (
        (pair.client, smgp.SmgpSubmit(dest_term_ids=("13800138000",)), client_may_submit),
        (pair.server, smgp.SmgpDeliver(), server_may_deliver),
    ):
        if allowed:
            core.send_request(request, pair.now)
        else:
            with pytest.raises(LocalProtocolError, match="refused"):
                core.send_request(request, pair.now)
    pair.flush()
    assert pair.client.state is pair.server.state is State.BOUND


def test_smpp_receiver_bind_gets_deliveries_and_may_not_submit() -> None:
    pair = Pair.of(smpp.SmppDialect(Role.CLIENT), smpp.SmppDialect(Role.SERVER))
    bind = pair.request(smpp.BindReceiver(system_id="esme", password="pw"))
    pair.server.send_response(smpp.BindReceiverResp(sequence_number=bind.sequence_number), 0)
    pair.flush()
    deliver = pair.server.send_request(smpp.DeliverSm(esm_class=4), pair.now)
    pair.flush()
    assert pair.client_events[-1] == RequestReceived(deliver)
    with pytest.raises(LocalProtocolError, match="refused"):
        pair.client.send_request(smpp.SubmitSm(), pair.now)


def test_smpp_unanswered_submit_is_resent_then_given_up() -> None:
    config = SessionConfig(response_timeout=10, max_attempts=2, heartbeat_interval=None)
    pair = Pair.of(smpp.SmppDialect(Role.CLIENT), smpp.SmppDialect(Role.SERVER), config)
    bind = pair.request(smpp.BindTransceiver(system_id="esme", password="pw"))
    pair.server.send_response(smpp.BindTransceiverResp(sequence_number=bind.sequence_number), 0)
    pair.flush()
    assert isinstance(pair.client_events[-1], ResponseReceived)
    submit = pair.request(smpp.SubmitSm(destination_addr="8613800138000"))
    pair.advance(10)
    assert pair.server_events[-2:] == [RequestReceived(submit), RequestReceived(submit)]
    pair.advance(10)
    assert pair.client_events[-1] == RequestFailed(submit, "no response")
