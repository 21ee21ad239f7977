"""SMPP dialect driven through the sans-IO session core: bind states, bind types, errors."""

from __future__ import annotations

import struct

import pytest

from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.session import (
    ConnectionClosed,
    RequestReceived,
    ResponseReceived,
    SessionCore,
)
from duanxin.protocols.core.state import Role, State
from duanxin.protocols.smpp import (
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    BindType,
    CommandStatus,
    Decoder,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Pdu,
    SmppDialect,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    encode,
)


def server() -> SessionCore[Pdu]:
    return SessionCore(SmppDialect(Role.SERVER), Role.SERVER)


def client() -> SessionCore[Pdu]:
    return SessionCore(SmppDialect(Role.CLIENT), Role.CLIENT)


def sent(core: SessionCore[Pdu]) -> list[Pdu]:
    decoder = Decoder()
    decoder.feed(core.data_to_send())
    return list(decoder.pdus())


def bound_server(bind: Pdu, answer: Pdu) -> SessionCore[Pdu]:
    core = server()
    events = core.receive_data(encode(bind), 0.0)
    assert events == [RequestReceived(bind)]
    core.send_response(answer, 0.0)
    assert core.state is State.BOUND
    sent(core)
    return core


def bound_client(bind: Pdu, answer: Pdu) -> SessionCore[Pdu]:
    core = client()
    core.send_request(bind, 0.0)
    sent(core)
    core.receive_data(encode(answer), 0.0)
    assert core.state is State.BOUND
    return core


def test_sequence_wraps_to_one() -> None:
    dialect = SmppDialect(Role.CLIENT, start_sequence=0x7FFFFFFE)
    numbers = [dialect.with_next_sequence(EnquireLink()).sequence_number for _ in range(3)]
    assert numbers == [0x7FFFFFFE, 0x7FFFFFFF, 1]


def test_submit_before_bind_is_refused_with_invbndsts() -> None:
    core = server()
    events = core.receive_data(encode(SubmitSm(sequence_number=4)), 0.0)
    assert isinstance(events[-1], ConnectionClosed)
    assert sent(core) == [
        SubmitSmResp(sequence_number=4, command_status=CommandStatus.ESME_RINVBNDSTS)
    ]
    assert core.state is State.CLOSED


def test_second_bind_gets_alybnd_and_session_stays_bound() -> None:
    core = bound_server(BindTransceiver(sequence_number=1), BindTransceiverResp(sequence_number=1))
    events = core.receive_data(encode(BindTransceiver(sequence_number=2)), 0.0)
    assert events == []
    assert sent(core) == [
        BindTransceiverResp(sequence_number=2, command_status=CommandStatus.ESME_RALYBND)
    ]
    assert core.state is State.BOUND
    dialect = core.dialect
    assert isinstance(dialect, SmppDialect)
    assert dialect.bind_type is BindType.TRANSCEIVER


def test_receiver_may_not_submit() -> None:
    core = bound_server(BindReceiver(sequence_number=1), BindReceiverResp(sequence_number=1))
    events = core.receive_data(encode(SubmitSm(sequence_number=2)), 0.0)
    assert events == []
    assert sent(core) == [
        SubmitSmResp(sequence_number=2, command_status=CommandStatus.ESME_RINVBNDSTS)
    ]
    assert core.state is State.BOUND
    with pytest.raises(LocalProtocolError):  # and the SMSC may send it deliveries
        core.send_request(SubmitSm(), 0.0)
    core.send_request(DeliverSm(), 0.0)


def test_transmitter_gets_no_deliveries() -> None:
    core = bound_client(BindTransmitter(), BindTransmitterResp(sequence_number=1))
    events = core.receive_data(encode(DeliverSm(sequence_number=9)), 0.0)
    assert events == []
    assert sent(core) == [
        DeliverSmResp(sequence_number=9, command_status=CommandStatus.ESME_RINVBNDSTS)
    ]


def test_receiver_client_may_not_submit() -> None:
    core = bound_client(BindReceiver(), BindReceiverResp(sequence_number=1))
    with pytest.raises(LocalProtocolError):
        core.send_request(SubmitSm(), 0.0)


def test_transceiver_traffic_both_ways() -> None:
    core = bound_client(BindTransceiver(), BindTransceiverResp(sequence_number=1))
    submit = core.send_request(SubmitSm(destination_addr="8613800138000"), 0.0)
    assert submit.sequence_number == 2
    answer = SubmitSmResp(sequence_number=2, message_id="AB")
    assert core.receive_data(encode(answer), 0.0) == [ResponseReceived(submit, answer)]
    deliver = DeliverSm(sequence_number=70, esm_class=4)
    assert core.receive_data(encode(deliver), 0.0) == [RequestReceived(deliver)]


def test_bind_refused_by_generic_nack() -> None:
    core = client()
    core.send_request(BindTransceiver(), 0.0)
    nack = GenericNack(sequence_number=1, command_status=CommandStatus.ESME_RINVCMDID)
    events = core.receive_data(encode(nack), 0.0)
    assert events[-1] == ConnectionClosed("login refused")
    assert core.state is State.CLOSED


def test_heartbeat_and_unbind_answered_by_the_dialect() -> None:
    core = bound_server(BindTransceiver(sequence_number=1), BindTransceiverResp(sequence_number=1))
    assert core.receive_data(encode(EnquireLink(sequence_number=5)), 0.0) == []
    assert sent(core) == [EnquireLinkResp(sequence_number=5)]
    events = core.receive_data(encode(Unbind(sequence_number=6)), 0.0)
    assert events == [ConnectionClosed("peer logged out")]
    assert sent(core) == [UnbindResp(sequence_number=6)]


def test_malformed_frame_gets_generic_nack_and_closes() -> None:
    core = bound_server(BindTransceiver(sequence_number=1), BindTransceiverResp(sequence_number=1))
    events = core.receive_data(struct.pack(">IIII", 16, 0x77, 0, 12), 0.0)
    assert isinstance(events[-1], ConnectionClosed)
    assert sent(core) == [
        GenericNack(sequence_number=12, command_status=CommandStatus.ESME_RINVCMDID)
    ]
    assert core.state is State.CLOSED


def test_client_sends_enquire_link_when_idle() -> None:
    core = bound_client(BindTransceiver(), BindTransceiverResp(sequence_number=1))
    deadline = core.next_deadline()
    assert deadline is not None
    core.handle_timer(deadline)
    assert sent(core) == [EnquireLink(sequence_number=2)]
