"""SMPP client (``open_client``) against the SMPP simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from duanxin.domain.segments import Reassembler
from duanxin.protocols.carrier import (
    CarrierMO,
    CarrierReport,
    CarrierSessionClient,
    ChannelSettings,
    Inbound,
    OutboundMessage,
)
from duanxin.protocols.core.sequence import Backoff
from duanxin.protocols.smpp import (
    BindTransceiver,
    BindTransceiverResp,
    CommandId,
    CommandStatus,
    Decoder,
    GenericNack,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    encode,
    open_client,
)
from duanxin.protocols.smpp.tlv import TlvTag, int_tlv
from duanxin.simulator.core import SimulatorConfig
from duanxin.simulator.smpp import SmppSimulator
from tests.conftest import until as eventually

ACCOUNT, PASSWORD = "smppclient1", "password"
SENDER, HANDSET = "10690001", "13800138000"
LONG_TEXT = "国际短信网关长消息测试，" * 15  # 180 characters: three UCS2 segments
WAIT = 5.0
VERSION_TLV = int_tlv(TlvTag.SC_INTERFACE_VERSION, 0x34, 1)

Client = CarrierSessionClient[Pdu]


class Inbox:
    """Collects what a client hands to ``on_inbound``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Inbound] = asyncio.Queue()

    def __call__(self, inbound: Inbound) -> None:
        self.queue.put_nowait(inbound)

    async def next(self) -> Inbound:
        return await asyncio.wait_for(self.queue.get(), WAIT)


Simulate = Callable[..., Awaitable[SmppSimulator]]
Connect = Callable[..., Awaitable[tuple[Client, Inbox]]]


@pytest.fixture
async def simulate() -> AsyncIterator[Simulate]:
    started: list[SmppSimulator] = []

    async def start(**kwargs: Any) -> SmppSimulator:
        format_ = kwargs.pop("receipt_id_format", "hex")
        config = SimulatorConfig(
            account=ACCOUNT, password=PASSWORD, report_delay=0.01, seed=1, **kwargs
        )
        simulator = SmppSimulator(config, receipt_id_format=format_)
        await simulator.start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        await simulator.stop()


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    clients: list[Client] = []

    async def start(
        simulator: SmppSimulator, *, wait: bool = True, password: str = PASSWORD, **kwargs: Any
    ) -> tuple[Client, Inbox]:
        extra = kwargs.pop("extra", {})
        settings = ChannelSettings(
            "127.0.0.1",
            simulator.port,
            kwargs.pop("account", ACCOUNT),
            password,
            extra=extra,
            **kwargs,
        )
        inbox = Inbox()
        client = open_client(settings, inbox, backoff=Backoff(initial=0.01, maximum=0.05))
        clients.append(client)
        await client.start()
        if wait:
            assert await client.wait_up(WAIT), client.last_error
        return client, inbox

    yield start
    for client in clients:
        await client.close()


def message(text: str = "hello from duanxin") -> OutboundMessage:
    return OutboundMessage(SENDER, HANDSET, text, reference=7)


# ------------------------------------------------------------------------ login


async def test_login(simulate: Simulate, connect: Connect) -> None:
    simulator = await simulate()
    client, _ = await connect(simulator)
    assert client.is_up
    assert simulator.received[CommandId.BIND_TRANSCEIVER] == 1


@pytest.mark.parametrize(
    ("account", "password", "status"),
    [
        (ACCOUNT, "wrong", CommandStatus.ESME_RINVPASWD),
        ("nobody", PASSWORD, CommandStatus.ESME_RINVSYSID),
    ],
)
async def test_wrong_credentials_refused(
    simulate: Simulate, connect: Connect, account: str, password: str, status: int
) -> None:
    simulator = await simulate()
    client, _ = await connect(simulator, wait=False, account=account, password=password)
    await eventually(lambda: client.login_failures >= 1)
    assert not client.is_up
    assert client.last_error == f"login refused with status {status}"


# ------------------------------------------------------------- submit and report


@pytest.mark.parametrize("receipt_id_format", ["hex", "decimal"])
async def test_submit_then_report_matched_by_id(
    simulate: Simulate, connect: Connect, receipt_id_format: str
) -> None:
    simulator = await simulate(receipt_id_format=receipt_id_format)
    client, inbox = await connect(simulator)
    result = await client.submit(message())
    assert result.accepted
    (carrier_id,) = result.carrier_ids
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert report.stat == "DELIVRD"
    assert report.destination == "86" + HANDSET
    assert report.done_time is not None
    if receipt_id_format == "hex":
        assert report.carrier_id == carrier_id
    else:
        assert int(report.carrier_id) == int(carrier_id, 16)
    (received,) = simulator.behaviour.received
    assert received.text == "hello from duanxin"
    assert received.carrier_ids == (carrier_id,)


async def test_failed_report_keeps_the_vendor_stat(simulate: Simulate, connect: Connect) -> None:
    simulator = await simulate(fail_ratio=1.0, failure_stats=("MA:0001",))
    client, inbox = await connect(simulator)
    await client.submit(message())
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert report.stat == "MA:0001"


async def test_no_report_when_not_wanted(simulate: Simulate, connect: Connect) -> None:
    simulator = await simulate()
    client, inbox = await connect(simulator)
    quiet = OutboundMessage(SENDER, HANDSET, "no receipt please", want_report=False)
    await client.submit(quiet)
    await client.submit(message())  # its receipt comes after the first one would have
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert inbox.queue.empty()
    await eventually(lambda: simulator.receipts_sent == 1)


async def test_receipt_reaches_the_receiver_of_a_split_bind(
    simulate: Simulate, connect: Connect
) -> None:
    simulator = await simulate()
    transmitter, tx_inbox = await connect(simulator, extra={"bind_type": "transmitter"})
    _, rx_inbox = await connect(simulator, extra={"bind_type": "receiver"})
    result = await transmitter.submit(message())
    report = await rx_inbox.next()
    assert isinstance(report, CarrierReport)
    assert report.carrier_id == result.carrier_ids[0]
    assert tx_inbox.queue.empty()


# ----------------------------------------------------------------------- MO


async def test_mo_delivered(simulate: Simulate, connect: Connect) -> None:
    simulator = await simulate()
    _, inbox = await connect(simulator)
    await simulator.inject_mo("86" + HANDSET, SENDER + "12", "回复 TD")
    mo = await inbox.next()
    assert mo == CarrierMO("86" + HANDSET, SENDER + "12", "回复 TD", None)


async def test_mo_without_a_receiving_bind(simulate: Simulate, connect: Connect) -> None:
    simulator = await simulate()
    await connect(simulator, extra={"bind_type": "transmitter"})
    with pytest.raises(RuntimeError):
        await simulator.inject_mo("86" + HANDSET, SENDER, "hi")


async def test_long_mo_arrives_in_segments(simulate: Simulate, connect: Connect) -> None:
    simulator = await simulate()
    _, inbox = await connect(simulator)
    await simulator.inject_mo("86" + HANDSET, SENDER, LONG_TEXT)
    reassembler = Reassembler()
    whole = None
    for _ in range(3):
        mo = await inbox.next()
        assert isinstance(mo, CarrierMO)
        assert mo.concat is not None and mo.concat.total == 3
        whole = reassembler.add((mo.source, mo.destination), mo.concat, mo.text, 0.0)
    assert whole == LONG_TEXT


# ---------------------------------------------------------------- long messages


@pytest.mark.parametrize("mode", ["udh", "sar"])
async def test_long_message_split_and_reassembled(
    simulate: Simulate, connect: Connect, mode: str
) -> None:
    simulator = await simulate()
    client, inbox = await connect(simulator, extra={"long_messages": mode})
    result = await client.submit(message(LONG_TEXT))
    assert result.accepted
    assert len(set(result.carrier_ids)) == 3
    await eventually(lambda: len(simulator.behaviour.received) == 1)
    (received,) = simulator.behaviour.received
    assert received.text == LONG_TEXT
    assert received.carrier_ids == result.carrier_ids
    reports = [await inbox.next() for _ in range(3)]
    assert {r.carrier_id for r in reports if isinstance(r, CarrierReport)} == set(
        result.carrier_ids
    )


# --------------------------------------------------------- link maintenance


async def test_heartbeat_keeps_idle_link_up(simulate: Simulate, connect: Connect) -> None:
    simulator = await simulate()
    client, _ = await connect(simulator, heartbeat_interval=0.02)
    await eventually(lambda: simulator.received[CommandId.ENQUIRE_LINK] >= 3)
    assert client.is_up
    assert simulator.received[CommandId.BIND_TRANSCEIVER] == 1  # never reconnected
    assert (await client.submit(message())).accepted


async def test_window_never_exceeded(simulate: Simulate, connect: Connect) -> None:
    simulator = await simulate()
    client, _ = await connect(simulator, window=3)
    simulator.hold_submits()
    sends = [asyncio.ensure_future(client.submit(message(f"m{i}"))) for i in range(8)]
    await eventually(lambda: simulator.in_flight == 3)
    # What the client has sent and not had answered: the rest wait for a slot, unsent.
    assert client.in_flight == 3
    assert simulator.in_flight == 3
    simulator.release_submits()
    results = await asyncio.wait_for(asyncio.gather(*sends), WAIT)
    assert all(r.accepted for r in results)
    assert simulator.max_in_flight == 3
    assert simulator.behaviour.submits == 8


async def test_reconnect_after_server_drops(simulate: Simulate, connect: Connect) -> None:
    simulator = await simulate()
    client, _ = await connect(simulator)
    simulator.drop_connections()
    await eventually(lambda: simulator.received[CommandId.BIND_TRANSCEIVER] == 2)
    await eventually(lambda: client.is_up)
    assert (await client.submit(message())).accepted


async def test_tps_limit_answered_with_throttled(simulate: Simulate, connect: Connect) -> None:
    simulator = await simulate(tps=1)
    client, _ = await connect(simulator)
    results = await asyncio.gather(*(client.submit(message(f"m{i}")) for i in range(4)))
    outcomes = [o for r in results for o in r.outcomes]
    throttled = [o for o in outcomes if o.status == CommandStatus.ESME_RTHROTTLED]
    assert throttled, outcomes
    assert all(o.retryable and o.carrier_id == "" for o in throttled)
    assert any(o.status == 0 for o in outcomes)


# ------------------------------------------------------------- raw connections


class RawEsme:
    """A hand-driven ESME speaking our codec over a plain socket."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = Decoder()

    @classmethod
    async def open(cls, simulator: SmppSimulator) -> RawEsme:
        return cls(*await asyncio.open_connection("127.0.0.1", simulator.port))

    def send(self, data: bytes) -> None:
        self.writer.write(data)

    async def read(self) -> Pdu | None:
        """The next PDU, or None at end of stream."""
        while True:
            for pdu in self.decoder.pdus():
                return pdu
            data = await asyncio.wait_for(self.reader.read(4096), WAIT)
            if not data:
                return None
            self.decoder.feed(data)

    def close(self) -> None:
        self.writer.close()


async def test_malformed_frame_closes_only_that_connection(
    simulate: Simulate, connect: Connect
) -> None:
    simulator = await simulate()
    client, _ = await connect(simulator)
    raw = await RawEsme.open(simulator)
    try:
        raw.send(encode(BindTransceiver(sequence_number=1, system_id=ACCOUNT, password=PASSWORD)))
        assert await raw.read() == BindTransceiverResp(
            sequence_number=1, system_id="SMSC", tlvs=(VERSION_TLV,)
        )
        raw.send(struct.pack(">IIII", 16, 0x000000AA, 0, 2))  # unknown command id
        assert await raw.read() == GenericNack(
            sequence_number=2, command_status=CommandStatus.ESME_RINVCMDID
        )
        assert await raw.read() is None
    finally:
        raw.close()
    assert client.is_up
    assert (await client.submit(message())).accepted


async def test_submit_before_bind_refused(simulate: Simulate) -> None:
    simulator = await simulate()
    raw = await RawEsme.open(simulator)
    try:
        raw.send(encode(SubmitSm(sequence_number=3, destination_addr="8613800138000")))
        assert await raw.read() == SubmitSmResp(
            sequence_number=3, command_status=CommandStatus.ESME_RINVBNDSTS
        )
        assert await raw.read() is None
    finally:
        raw.close()
    assert simulator.behaviour.submits == 0


async def test_refused_bind_is_answered_with_a_bare_header(simulate: Simulate) -> None:
    simulator = await simulate()
    reader, writer = await asyncio.open_connection("127.0.0.1", simulator.port)
    try:
        writer.write(encode(BindTransceiver(sequence_number=1, system_id=ACCOUNT, password="x")))
        header = await asyncio.wait_for(reader.readexactly(16), WAIT)
        assert header == struct.pack(
            ">IIII", 16, CommandId.BIND_TRANSCEIVER_RESP, CommandStatus.ESME_RINVPASWD, 1
        )
    finally:
        writer.close()
