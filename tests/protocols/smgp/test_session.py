"""SMGP client (``open_client``) against the SMGP simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime
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
from duanxin.protocols.smgp import (
    Decoder,
    LoginMode,
    Pdu,
    SmgpLoginResp,
    SmgpStatus,
    SmgpSubmit,
    SmgpSubmitResp,
    build_login,
    encode,
    open_client,
)
from duanxin.simulator.core import SimulatorConfig
from duanxin.simulator.smgp import SmgpSimulator
from tests.conftest import until as eventually

ACCOUNT, SECRET = "10691234", "secret"
HANDSET = "13300133000"
LONG_TEXT = "中国电信短信网关长消息测试，" * 12  # 168 characters: three UCS2 segments
WAIT = 5.0


class Inbox:
    """Collects what the client hands to ``on_inbound``."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Inbound] = asyncio.Queue()

    def __call__(self, inbound: Inbound) -> None:
        self.queue.put_nowait(inbound)

    async def next(self) -> Inbound:
        return await asyncio.wait_for(self.queue.get(), WAIT)

    async def reports(self, count: int) -> list[CarrierReport]:
        found = [await self.next() for _ in range(count)]
        assert all(isinstance(item, CarrierReport) for item in found)
        return [item for item in found if isinstance(item, CarrierReport)]


async def make_simulator(**overrides: Any) -> SmgpSimulator:
    config = SimulatorConfig(account=ACCOUNT, password=SECRET, report_delay=0.0, seed=1)
    simulator = SmgpSimulator(replace(config, **overrides))
    await simulator.start()
    return simulator


@pytest.fixture
async def simulator() -> AsyncIterator[SmgpSimulator]:
    simulator = await make_simulator()
    yield simulator
    await simulator.stop()


ClientFactory = Callable[..., Awaitable[tuple[CarrierSessionClient[Pdu], Inbox]]]


@pytest.fixture
async def connect(simulator: SmgpSimulator) -> AsyncIterator[ClientFactory]:
    clients: list[CarrierSessionClient[Pdu]] = []

    async def start(
        *,
        password: str = SECRET,
        wait: bool = True,
        target: SmgpSimulator | None = None,
        **overrides: Any,
    ) -> tuple[CarrierSessionClient[Pdu], Inbox]:
        extra = {"login_mode": overrides.pop("login_mode", LoginMode.TRANSMIT)}
        settings = ChannelSettings(
            host="127.0.0.1",
            port=(target or simulator).port,
            account=ACCOUNT,
            password=password,
            service_id="MTEST",
            response_timeout=WAIT,
            extra=extra,
            **overrides,
        )
        inbox = Inbox()
        client = open_client(settings, inbox)
        assert isinstance(client, CarrierSessionClient)
        clients.append(client)
        await client.start()
        if wait:
            assert await client.wait_up(WAIT), client.last_error
        return client, inbox

    yield start
    for client in clients:
        await client.close()


def message(text: str = "你好", destination: str = HANDSET, **kwargs: Any) -> OutboundMessage:
    return OutboundMessage(source=ACCOUNT + "001", destination=destination, text=text, **kwargs)


# --------------------------------------------------------------------- login


async def test_login_ok(simulator: SmgpSimulator, connect: ClientFactory) -> None:
    client, _ = await connect()
    assert client.is_up
    assert simulator.connections == 1
    assert client.login_failures == 0


async def test_wrong_password_is_refused_with_authentication_error(
    simulator: SmgpSimulator, connect: ClientFactory
) -> None:
    client, _ = await connect(password="wrong", wait=False)
    await eventually(lambda: client.login_failures >= 1)
    assert not client.is_up
    assert client.last_error == f"login refused with status {SmgpStatus.AUTHENTICATION_ERROR}"


async def test_open_simulator_takes_any_secret(connect: ClientFactory) -> None:
    open_gateway = await make_simulator(account=None, password=None)
    try:
        client, _ = await connect(password="anything", target=open_gateway)
        assert client.is_up
    finally:
        await open_gateway.stop()


# -------------------------------------------------------------------- traffic


async def test_submit_response_and_report_share_the_carrier_id(
    simulator: SmgpSimulator, connect: ClientFactory
) -> None:
    client, inbox = await connect()
    result = await client.submit(message())
    assert result.accepted
    (carrier_id,) = result.carrier_ids
    assert len(carrier_id) == 20 and carrier_id.isdigit()
    assert carrier_id.startswith("001061")  # SMGW code of node 1
    (report,) = await inbox.reports(1)
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


async def test_no_report_unless_asked(simulator: SmgpSimulator, connect: ClientFactory) -> None:
    client, inbox = await connect()
    assert (await client.submit(message(want_report=False))).accepted
    assert (await client.submit(message())).accepted
    (report,) = await inbox.reports(1)
    assert inbox.queue.empty()
    assert report.carrier_id == simulator.behaviour.received[1].carrier_ids[0]


async def test_mo_is_delivered(simulator: SmgpSimulator, connect: ClientFactory) -> None:
    _, inbox = await connect()
    await simulator.inject_mo(HANDSET, ACCOUNT + "001", "收到，谢谢")
    mo = await inbox.next()
    assert mo == CarrierMO(source=HANDSET, destination=ACCOUNT + "001", text="收到，谢谢")


async def test_long_message_is_split_and_reassembled(
    simulator: SmgpSimulator, connect: ClientFactory
) -> None:
    client, inbox = await connect()
    result = await client.submit(message(LONG_TEXT, reference=77))
    assert result.accepted and len(result.carrier_ids) == 3
    (received,) = simulator.behaviour.received
    assert received.text == LONG_TEXT
    assert received.carrier_ids == result.carrier_ids
    reports = await inbox.reports(3)
    assert {r.carrier_id for r in reports} == set(result.carrier_ids)


async def test_long_mo_arrives_as_segments(
    simulator: SmgpSimulator, connect: ClientFactory
) -> None:
    _, inbox = await connect()
    await simulator.inject_mo(HANDSET, ACCOUNT, LONG_TEXT)
    reassembler = Reassembler()
    whole = None
    for _ in range(3):
        mo = await inbox.next()
        assert isinstance(mo, CarrierMO) and mo.concat is not None
        assert mo.concat.total == 3
        whole = reassembler.add((mo.source, mo.destination), mo.concat, mo.text, 0.0)
    assert whole == LONG_TEXT


async def test_reports_go_to_the_receive_connection(
    simulator: SmgpSimulator, connect: ClientFactory
) -> None:
    sender, sender_inbox = await connect(login_mode=LoginMode.SEND)
    with pytest.raises(RuntimeError):
        await simulator.inject_mo(HANDSET, ACCOUNT, "nobody listens")
    _, receiver_inbox = await connect(login_mode=LoginMode.RECEIVE)
    result = await sender.submit(message())
    (report,) = await receiver_inbox.reports(1)
    assert report.carrier_id == result.carrier_ids[0]
    await simulator.inject_mo(HANDSET, ACCOUNT, "hello")
    assert isinstance(await receiver_inbox.next(), CarrierMO)
    assert sender_inbox.queue.empty()


# ------------------------------------------------------------ link management


async def test_heartbeats_keep_an_idle_link_up(
    simulator: SmgpSimulator, connect: ClientFactory
) -> None:
    client, _ = await connect(heartbeat_interval=0.05)
    await eventually(lambda: simulator.heartbeats_received >= 3)
    assert client.is_up
    assert simulator.logins == 1  # the same connection throughout


async def test_window_is_never_exceeded(simulator: SmgpSimulator, connect: ClientFactory) -> None:
    client, _ = await connect(window=4)
    simulator.response_gate.clear()
    sending = asyncio.gather(*(client.submit(message(f"msg {n}")) for n in range(12)))
    await eventually(lambda: simulator.max_in_flight == 4)
    # What the client has sent and not had answered: the rest wait for a slot, unsent.
    assert client.in_flight == 4
    assert simulator.max_in_flight == 4
    simulator.response_gate.set()
    results = await asyncio.wait_for(sending, WAIT)
    assert all(result.accepted for result in results)
    assert simulator.max_in_flight == 4
    assert len(simulator.behaviour.received) == 12


async def test_reconnects_after_the_server_drops_the_link(
    simulator: SmgpSimulator, connect: ClientFactory
) -> None:
    client, _ = await connect()
    simulator.drop_connections()
    await eventually(lambda: simulator.logins == 2 and client.is_up)
    assert (await client.submit(message())).accepted


async def test_tps_limit_answers_system_busy(connect: ClientFactory) -> None:
    throttled = await make_simulator(tps=1.0)
    try:
        client, _ = await connect(target=throttled)
        results = [await client.submit(message(f"n{n}", want_report=False)) for n in range(4)]
        refused = [r.outcomes[0] for r in results if not r.accepted]
        assert results[0].accepted
        assert refused and all(o.status == SmgpStatus.SYSTEM_BUSY for o in refused)
        assert all(o.retryable and o.carrier_id == "" for o in refused)
    finally:
        await throttled.stop()


# ------------------------------------------------------------- malformed input


async def raw_login(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    login = build_login(ACCOUNT, SECRET, datetime.now())
    writer.write(encode(login))
    response = await read_pdu(reader)
    assert isinstance(response, SmgpLoginResp) and response.status == 0
    return reader, writer


async def read_pdu(reader: asyncio.StreamReader) -> Pdu:
    header = await asyncio.wait_for(reader.readexactly(4), WAIT)
    rest = await asyncio.wait_for(reader.readexactly(int.from_bytes(header, "big") - 4), WAIT)
    decoder = Decoder()
    decoder.feed(header + rest)
    (pdu,) = list(decoder.pdus())
    return pdu


async def test_malformed_submit_is_answered_and_closes_only_that_link(
    simulator: SmgpSimulator, connect: ClientFactory
) -> None:
    client, _ = await connect()
    reader, writer = await raw_login(simulator.port)
    wire = encode(SmgpSubmit(sequence_id=9, dest_term_ids=(HANDSET,), msg_content=b"hi"))
    writer.write((len(wire) - 3).to_bytes(4, "big") + wire[4:-3])  # Reserve cut short
    response = await read_pdu(reader)
    assert isinstance(response, SmgpSubmitResp)
    assert (response.sequence_id, response.status) == (9, SmgpStatus.BAD_STRUCTURE)
    assert await asyncio.wait_for(reader.read(), WAIT) == b""  # closed by the server
    writer.close()
    assert (await client.submit(message())).accepted


async def test_garbage_length_closes_only_that_link(
    simulator: SmgpSimulator, connect: ClientFactory
) -> None:
    client, _ = await connect()
    reader, writer = await raw_login(simulator.port)
    writer.write(b"\xff\xff\xff\xff" + bytes(8))
    assert await asyncio.wait_for(reader.read(), WAIT) == b""
    writer.close()
    assert client.is_up
    assert (await client.submit(message())).accepted
    await eventually(lambda: simulator.connections == 1)
