"""CMPP client (open_client / CarrierSessionClient) against CmppSimulator over loopback."""

from __future__ import annotations

import asyncio
import dataclasses
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime

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
from duanxin.protocols.cmpp import (
    CmppAdapter,
    CmppCancel,
    CmppCancelResp,
    CmppCancelResult,
    CmppConnectResp,
    CmppConnectStatus,
    CmppQuery,
    CmppQueryResp,
    CmppSubmit,
    CmppSubmitResp,
    CmppSubmitResult,
    CmppVersion,
    Decoder,
    Pdu,
    connect_request,
    encode,
    open_client,
)
from duanxin.protocols.core.sequence import Backoff
from duanxin.simulator.cmpp import CmppSimulator
from duanxin.simulator.core import SimulatorConfig
from tests.conftest import until

SP_ID, SECRET = "901234", "secret"
ACCESS_CODE, HANDSET = "1065712345", "13800138000"
LONG_TEXT = "长短信测试" * 30  # 150 UCS-2 characters: three segments
WAIT = 5.0

Client = CarrierSessionClient[Pdu]


class Inbox:
    """Collects what the client hands to on_inbound."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Inbound] = asyncio.Queue()

    def __call__(self, item: Inbound) -> None:
        self.queue.put_nowait(item)

    async def next(self) -> Inbound:
        return await asyncio.wait_for(self.queue.get(), WAIT)


@pytest.fixture
async def simulators() -> AsyncIterator[Callable[..., Awaitable[CmppSimulator]]]:
    started: list[CmppSimulator] = []

    async def start(**overrides: object) -> CmppSimulator:
        options: dict[str, object] = {
            "account": SP_ID,
            "password": SECRET,
            "report_delay": 0.01,
            "seed": 1,
        }
        options.update(overrides)
        simulator = CmppSimulator(SimulatorConfig(**options))  # type: ignore[arg-type]
        await simulator.start()
        started.append(simulator)
        return simulator

    yield start
    for simulator in started:
        await simulator.stop()


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., Awaitable[tuple[Client, Inbox]]]]:
    started: list[Client] = []

    async def start(simulator: CmppSimulator, **overrides: object) -> tuple[Client, Inbox]:
        options: dict[str, object] = {
            "host": "127.0.0.1",
            "port": simulator.port,
            "account": SP_ID,
            "password": SECRET,
            "access_code": ACCESS_CODE,
            "service_id": "MTEST",
            "response_timeout": WAIT,
        }
        options.update(overrides)
        settings = ChannelSettings(**options)  # type: ignore[arg-type]
        inbox = Inbox()
        client = Client(CmppAdapter(settings), settings, inbox, backoff=Backoff(initial=0.01))
        await client.start()
        started.append(client)
        return client, inbox

    yield start
    for client in started:
        await client.close()


def message(text: str = "你好", destination: str = HANDSET) -> OutboundMessage:
    return OutboundMessage(source=ACCESS_CODE + "01", destination=destination, text=text)


@pytest.mark.parametrize("version", [CmppVersion.V20, CmppVersion.V30])
async def test_login_submit_and_report(simulators, clients, version: CmppVersion) -> None:
    simulator = await simulators()
    client, inbox = await clients(simulator, version=version)
    assert await client.wait_up(WAIT)
    result = await client.submit(message())
    assert result.accepted
    (carrier_id,) = result.carrier_ids
    assert len(carrier_id) == 16
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert report.carrier_id == carrier_id
    assert report.stat == "DELIVRD"
    assert report.destination == HANDSET
    assert isinstance(report.done_time, datetime)
    (received,) = simulator.behaviour.received
    assert (received.text, received.destination, received.carrier_ids) == (
        "你好",
        HANDSET,
        (carrier_id,),
    )
    assert received.source == ACCESS_CODE + "01"


async def test_open_client_is_the_public_entry(simulators) -> None:
    simulator = await simulators()
    settings = ChannelSettings("127.0.0.1", simulator.port, SP_ID, SECRET)
    client = open_client(settings, lambda item: None)
    assert isinstance(client, CarrierSessionClient)
    await client.start()
    try:
        assert await client.wait_up(WAIT)
        assert client.is_up
    finally:
        await client.close()
    await until(lambda: not simulator.sessions)


@pytest.mark.parametrize(
    ("account", "password", "status"),
    [
        (SP_ID, "wrong", CmppConnectStatus.AUTHENTICATION_FAILED),
        ("999999", SECRET, CmppConnectStatus.ILLEGAL_SOURCE_ADDRESS),
    ],
)
async def test_wrong_credentials_are_refused(
    simulators, clients, account: str, password: str, status: int
) -> None:
    simulator = await simulators()
    client, _ = await clients(simulator, account=account, password=password)
    await until(lambda: client.login_failures >= 1)
    assert not client.is_up
    assert client.last_error == f"login refused with status {status}"
    assert not simulator.sessions


async def test_any_login_accepted_without_configured_account(simulators, clients) -> None:
    simulator = await simulators(account=None, password=None)
    client, _ = await clients(simulator, account="123456", password="anything")
    assert await client.wait_up(WAIT)


async def test_mo_is_delivered(simulators, clients) -> None:
    simulator = await simulators()
    client, inbox = await clients(simulator)
    assert await client.wait_up(WAIT)
    await simulator.inject_mo(HANDSET, ACCESS_CODE + "01", "收到，谢谢")
    mo = await inbox.next()
    assert mo == CarrierMO(source=HANDSET, destination=ACCESS_CODE + "01", text="收到，谢谢")


async def test_inject_mo_without_a_connection_raises(simulators) -> None:
    simulator = await simulators()
    with pytest.raises(RuntimeError):
        await simulator.inject_mo(HANDSET, ACCESS_CODE, "hi")


async def test_long_message_split_and_reassembled(simulators, clients) -> None:
    simulator = await simulators()
    client, inbox = await clients(simulator)
    assert await client.wait_up(WAIT)
    result = await client.submit(dataclasses.replace(message(LONG_TEXT), reference=7))
    assert result.accepted
    assert len(result.carrier_ids) == 3
    await until(lambda: len(simulator.behaviour.received) == 1)
    (received,) = simulator.behaviour.received
    assert received.text == LONG_TEXT
    assert sorted(received.carrier_ids) == sorted(result.carrier_ids)
    reports = [await inbox.next() for _ in range(3)]
    assert {r.carrier_id for r in reports if isinstance(r, CarrierReport)} == set(
        result.carrier_ids
    )


async def test_long_mo_arrives_as_segments(simulators, clients) -> None:
    simulator = await simulators()
    client, inbox = await clients(simulator)
    assert await client.wait_up(WAIT)
    await simulator.inject_mo(HANDSET, ACCESS_CODE, LONG_TEXT)
    reassembler = Reassembler()
    whole = None
    for _ in range(3):
        mo = await inbox.next()
        assert isinstance(mo, CarrierMO)
        assert mo.concat is not None and mo.concat.total == 3
        whole = reassembler.add((mo.source, mo.destination), mo.concat, mo.text, 0.0) or whole
    assert whole == LONG_TEXT


async def test_heartbeats_keep_an_idle_link_up(simulators, clients) -> None:
    simulator = await simulators()
    client, _ = await clients(simulator, heartbeat_interval=0.02)
    assert await client.wait_up(WAIT)
    await until(lambda: simulator.heartbeats_received >= 3)
    assert client.is_up
    assert len(simulator.sessions) == 1


async def test_window_is_never_exceeded(simulators, clients) -> None:
    simulator = await simulators()
    client, _ = await clients(simulator, window=4)
    assert await client.wait_up(WAIT)
    simulator.pause_submits()
    submits = [
        asyncio.ensure_future(client.submit(message(destination=f"1380013{n:04d}")))
        for n in range(20)
    ]
    await until(lambda: simulator.submits_in_flight == 4)
    # What the client has sent and not had answered: the rest wait for a slot, unsent.
    assert client.in_flight == 4
    assert simulator.submits_in_flight == 4
    simulator.resume_submits()
    results = await asyncio.gather(*submits)
    assert all(r.accepted for r in results)
    assert simulator.max_submits_in_flight == 4
    assert simulator.behaviour.submits == 20


async def test_reconnects_after_the_server_drops_the_link(simulators, clients) -> None:
    simulator = await simulators()
    client, _ = await clients(simulator)
    assert await client.wait_up(WAIT)
    (first,) = simulator.sessions
    first.abort("dropped by the test")
    await until(lambda: len(simulator.sessions) == 1 and simulator.sessions[0] is not first)
    await until(lambda: client.is_up)
    assert (await client.submit(message())).accepted


async def test_tps_limit_answers_flow_control(simulators, clients) -> None:
    simulator = await simulators(tps=1)
    client, _ = await clients(simulator)
    assert await client.wait_up(WAIT)
    results = await asyncio.gather(*(client.submit(message()) for _ in range(5)))
    outcomes = [r.outcomes[0] for r in results]
    throttled = [o for o in outcomes if o.status == CmppSubmitResult.FLOW_CONTROL]
    assert throttled
    assert all(o.retryable and o.carrier_id == "" for o in throttled)
    assert any(o.status == CmppSubmitResult.OK for o in outcomes)


async def _raw_login(port: int, version: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    connect = dataclasses.replace(
        connect_request(SP_ID, SECRET, datetime.now(), version), sequence_id=1
    )
    writer.write(encode(connect))
    decoder = Decoder(version)
    response = await _read_pdu(reader, decoder)
    assert isinstance(response, CmppConnectResp)
    assert response.status == CmppConnectStatus.OK
    return reader, writer


async def _read_pdu(reader: asyncio.StreamReader, decoder: Decoder) -> Pdu:
    header = await asyncio.wait_for(reader.readexactly(4), WAIT)
    (length,) = struct.unpack(">I", header)
    decoder.feed(header + await asyncio.wait_for(reader.readexactly(length - 4), WAIT))
    (pdu,) = decoder.pdus()
    return pdu


async def test_malformed_frame_closes_only_that_connection(simulators, clients) -> None:
    simulator = await simulators()
    client, _ = await clients(simulator)
    assert await client.wait_up(WAIT)
    reader, writer = await _raw_login(simulator.port, CmppVersion.V30)
    submit = encode(CmppSubmit(sequence_id=9, dest_terminal_ids=(HANDSET,), msg_content=b"hi"))
    truncated = bytearray(submit[:-3])
    truncated[3] -= 3  # a consistent Total_Length, but the body is short
    writer.write(bytes(truncated))
    answer = await _read_pdu(reader, Decoder(CmppVersion.V30))
    assert answer == CmppSubmitResp(sequence_id=9, result=CmppSubmitResult.BAD_LENGTH)
    assert await asyncio.wait_for(reader.read(), WAIT) == b""  # closed by the simulator
    writer.close()
    assert (await client.submit(message())).accepted
    assert client.is_up


async def test_version_21_connect_is_served_as_20(simulators) -> None:
    simulator = await simulators()
    reader, writer = await _raw_login(simulator.port, CmppVersion.V21)
    submit = CmppSubmit(
        sequence_id=2,
        version=CmppVersion.V20,
        dest_terminal_ids=(HANDSET,),
        msg_fmt=8,
        msg_content="你好".encode("utf-16-be"),
    )
    writer.write(encode(submit))
    answer = await _read_pdu(reader, Decoder(CmppVersion.V20))
    assert isinstance(answer, CmppSubmitResp)
    assert answer.version == CmppVersion.V20
    assert answer.result == CmppSubmitResult.OK
    assert simulator.behaviour.received[0].text == "你好"
    writer.close()


async def test_query_and_cancel_are_answered(simulators) -> None:
    simulator = await simulators()
    reader, writer = await _raw_login(simulator.port, CmppVersion.V30)
    decoder = Decoder(CmppVersion.V30)
    writer.write(encode(CmppQuery(sequence_id=3, time="20251128")))
    answer = await _read_pdu(reader, decoder)
    assert isinstance(answer, CmppQueryResp)
    assert (answer.sequence_id, answer.time) == (3, "20251128")
    writer.write(encode(CmppCancel(sequence_id=4, msg_id=1)))
    assert await _read_pdu(reader, decoder) == CmppCancelResp(
        sequence_id=4, success_id=CmppCancelResult.FAILED
    )
    writer.close()


@pytest.mark.parametrize("length", [160, 300])
async def test_ascii_messages_single_and_long(simulators, clients, length: int) -> None:
    simulator = await simulators()
    client, _ = await clients(simulator)
    assert await client.wait_up(WAIT)
    text = ("abcdefghij" * 30)[:length]
    result = await client.submit(message(text))
    assert result.accepted
    assert len(result.outcomes) == (1 if length == 160 else 2)
    await until(lambda: len(simulator.behaviour.received) == 1)
    assert simulator.behaviour.received[0].text == text


async def test_failed_reports_carry_the_drawn_stat(simulators, clients) -> None:
    simulator = await simulators(fail_ratio=1.0, failure_stats=("MA:0001",))
    client, inbox = await clients(simulator)
    assert await client.wait_up(WAIT)
    result = await client.submit(message())
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert (report.carrier_id, report.stat) == (result.carrier_ids[0], "MA:0001")
