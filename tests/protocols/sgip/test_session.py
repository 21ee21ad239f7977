"""SGIP client <-> simulated SMG over loopback sockets, in both link directions."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from duanxin.domain.segments import Reassembler
from duanxin.protocols.carrier import (
    CarrierMO,
    CarrierReport,
    ChannelSettings,
    Inbound,
    OutboundMessage,
)
from duanxin.protocols.core.sequence import Backoff
from duanxin.protocols.core.state import State
from duanxin.protocols.sgip import (
    Bind,
    BindResp,
    Decoder,
    Pdu,
    Report,
    ReportResp,
    Result,
    SequenceNumber,
    Submit,
    SubmitResp,
    encode,
)
from duanxin.protocols.sgip.client import SgipClient, open_client
from duanxin.simulator.core import SimulatorConfig
from duanxin.simulator.sgip import SgipSimulator
from tests.conftest import until
from tests.protocols.test_sessions import sgip_pair

ACCOUNT, PASSWORD = "spuser", "sppass"
HANDSET = "13012345678"
ACCESS = "1065501234501"
WAIT = 5.0


class Inbox:
    """Collects what the client hands on, awaitable one item at a time."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Inbound] = asyncio.Queue()

    def __call__(self, item: Inbound) -> None:
        self.queue.put_nowait(item)

    async def next(self) -> Inbound:
        return await asyncio.wait_for(self.queue.get(), WAIT)


def _settings(port: int, **overrides: Any) -> ChannelSettings:
    base = ChannelSettings(
        host="127.0.0.1",
        port=port,
        account=ACCOUNT,
        password=PASSWORD,
        access_code="10655012345",
        service_id="MTEST",
        sp_code="12345",
        response_timeout=5.0,
    )
    return dataclasses.replace(base, **overrides)


@pytest.fixture
async def make_sim() -> AsyncIterator[Callable[..., Any]]:
    sims: list[SgipSimulator] = []

    async def make(**config: Any) -> SgipSimulator:
        options: dict[str, Any] = {"account": ACCOUNT, "password": PASSWORD}
        options["report_delay"] = 0.01
        options.update(config)
        sim = SgipSimulator(SimulatorConfig(**options))
        await sim.start()
        sims.append(sim)
        return sim

    yield make
    for sim in sims:
        await sim.stop()


@pytest.fixture
async def make_client() -> AsyncIterator[Callable[..., Any]]:
    clients: list[SgipClient] = []

    async def make(
        sim: SgipSimulator, inbox: Inbox | None = None, *, up: bool = True, **overrides: Any
    ) -> SgipClient:
        client = SgipClient(
            _settings(sim.port, **overrides),
            inbox or Inbox(),
            backoff=Backoff(initial=0.01, maximum=0.05),
        )
        await client.start()
        sim.sp_address = ("127.0.0.1", client.listen_port)
        clients.append(client)
        if up:
            assert await client.wait_up(WAIT), client.last_error
        return client

    yield make
    for client in clients:
        await client.close()


def _message(text: str = "你好", **overrides: Any) -> OutboundMessage:
    return OutboundMessage(source=ACCESS, destination=HANDSET, text=text, **overrides)


async def test_open_client_binds_and_listens(make_sim: Any) -> None:
    sim = await make_sim()
    client = open_client(_settings(sim.port), Inbox())
    try:
        await client.start()
        assert client.listen_port > 0
        assert await client.wait_up(WAIT)
        assert client.is_up
        assert sim.binds == 1
        assert client.settings.heartbeat_interval is None
    finally:
        await client.close()
    assert sim.unbinds == 1


async def test_wrong_password_refused_with_illegal_login(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim()
    client = await make_client(sim, up=False, password="wrong")
    await until(lambda: client.login_failures >= 1)
    assert client.last_error is not None
    assert f"status {Result.ILLEGAL_LOGIN.value}" in client.last_error
    assert not client.is_up
    assert sim.refused_binds >= 1


async def test_submit_response_and_report_match_by_carrier_id(
    make_sim: Any, make_client: Any
) -> None:
    sim = await make_sim()
    inbox = Inbox()
    client = await make_client(sim, inbox)
    result = await client.submit(_message())
    assert result.accepted
    (carrier_id,) = result.carrier_ids
    node, time, counter = carrier_id.split(":")
    assert int(node) == 3000012345 and len(time) == 10 and counter.isdigit()
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert report.carrier_id == carrier_id
    assert report.stat == "DELIVRD"
    assert report.destination == HANDSET
    assert sim.behaviour.received[0].destination == HANDSET
    assert sim.behaviour.received[0].carrier_ids == (carrier_id,)


async def test_failed_report_carries_error_code(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim(fail_ratio=1.0, failure_stats=("EXPIRED",))
    inbox = Inbox()
    client = await make_client(sim, inbox)
    result = await client.submit(_message())
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert report.carrier_id == result.carrier_ids[0]
    assert report.stat == f"ER:{Result.USER_UNREACHABLE.value:04d}"


async def test_no_report_when_none_wanted(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim()
    inbox = Inbox()
    client = await make_client(sim, inbox)
    await client.submit(_message("quiet", want_report=False))
    wanted = await client.submit(_message("loud"))
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert report.carrier_id == wanted.carrier_ids[0]
    await until(lambda: len(sim.reports_sent) == 1)
    assert inbox.queue.empty()


async def test_mo_delivered_over_the_reverse_link(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim()
    inbox = Inbox()
    client = await make_client(sim, inbox)
    await sim.inject_mo(HANDSET, ACCESS, "好的")
    mo = await inbox.next()
    assert mo == CarrierMO(source=HANDSET, destination=ACCESS, text="好的", concat=None)
    assert client.listener.binds == 1
    assert sim.reverse.binds == 1


async def test_long_mo_arrives_as_segments_that_reassemble(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim()
    inbox = Inbox()
    await make_client(sim, inbox)
    text = "长短信测试" * 30
    await sim.inject_mo(HANDSET, ACCESS, text)
    reassembler = Reassembler()
    whole = None
    while whole is None:
        mo = await inbox.next()
        assert isinstance(mo, CarrierMO) and mo.concat is not None
        whole = reassembler.add((mo.source, mo.destination), mo.concat, mo.text, 0.0)
    assert whole == text


async def test_inject_mo_without_sp_address_raises(make_sim: Any) -> None:
    sim = await make_sim()
    with pytest.raises(RuntimeError):
        await sim.inject_mo(HANDSET, ACCESS, "hi")


async def test_reverse_bind_with_wrong_credentials_is_refused(
    make_sim: Any, make_client: Any
) -> None:
    sim = await make_sim()
    inbox = Inbox()
    client = await make_client(sim, inbox, extra={"listen_password": "other"})
    with pytest.raises(RuntimeError):
        await sim.inject_mo(HANDSET, ACCESS, "hi")
    assert client.listener.refused_binds == 1
    sim.sp_credentials = (ACCOUNT, "other")
    await sim.inject_mo(HANDSET, ACCESS, "hi")
    assert isinstance(await inbox.next(), CarrierMO)


async def test_long_message_split_and_reassembled(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim()
    inbox = Inbox()
    client = await make_client(sim, inbox)
    text = "这是一条很长的短信。" * 20
    result = await client.submit(_message(text, reference=7))
    assert result.accepted and len(result.carrier_ids) == 3
    assert len(set(result.carrier_ids)) == 3
    assert [m.text for m in sim.behaviour.received] == [text]
    reports = {(await inbox.next()).carrier_id for _ in range(3)}  # type: ignore[union-attr]
    assert reports == set(result.carrier_ids)


async def test_idle_link_unbound_and_bound_again_on_demand(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim()
    client = await make_client(sim, extra={"idle_timeout": 0.05})
    await until(lambda: client.is_parked)
    await until(lambda: sim.unbinds == 1)
    assert client.is_up  # parked links count as up: the next submit binds again
    assert not client.is_bound
    result = await client.submit(_message())
    assert result.accepted
    assert sim.binds == 2


async def test_no_heartbeat_so_short_interval_does_not_drop_the_link(
    make_sim: Any, make_client: Any
) -> None:
    # SGIP has no heartbeat: a heartbeat_interval from the channel settings is ignored
    # rather than counted as unanswered heartbeats (which would close the link).
    sim = await make_sim()
    client = await make_client(sim, heartbeat_interval=0.01, extra={"idle_timeout": None})
    # The client's session settings on a fake clock: a hundred intervals, well past
    # heartbeat_attempts, and the link stays.
    pair = sgip_pair(client.settings.session_config())
    pair.advance(1.0)
    assert pair.client.state is State.BOUND
    assert client.is_bound
    assert sim.binds == 1 and sim.unbinds == 0
    assert (await client.submit(_message())).accepted


async def test_window_never_exceeded(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim()
    sim.response_delay = 0.05
    client = await make_client(sim, window=4)
    results = await asyncio.gather(*(client.submit(_message(f"m{i}")) for i in range(12)))
    assert all(r.accepted for r in results)
    assert sim.max_in_flight == 4


async def test_reconnects_after_server_drops_the_link(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim()
    client = await make_client(sim)
    for link in list(sim.links):
        link.abort("dropped by test")
    await until(lambda: sim.binds == 2 and client.is_bound)
    assert (await client.submit(_message())).accepted


async def test_tps_limit_answered_with_node_busy(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim(tps=1)
    client = await make_client(sim)
    results = [await client.submit(_message(f"m{i}")) for i in range(3)]
    refused = [o for r in results for o in r.outcomes if o.status != 0]
    assert refused
    assert all(o.status == Result.NODE_BUSY and o.retryable for o in refused)
    assert results[0].accepted


# ----------------------------------------------------------- raw connections


class RawLink:
    """A hand-driven SGIP connection for sending what a well-behaved peer would not."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = Decoder()
        self.received: list[Pdu] = []

    @classmethod
    async def open(cls, port: int) -> RawLink:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def send(self, pdu: Pdu) -> Pdu:
        self.writer.write(encode(pdu))
        return await self.receive()

    async def receive(self) -> Pdu:
        while True:
            self.received.extend(self.decoder.pdus())
            if self.received:
                return self.received.pop(0)
            data = await asyncio.wait_for(self.reader.read(4096), WAIT)
            if not data:
                raise ConnectionError("closed")
            self.decoder.feed(data)

    async def closed_by_peer(self) -> bool:
        return await asyncio.wait_for(self.reader.read(4096), WAIT) == b""

    def close(self) -> None:
        self.writer.close()


async def test_malformed_frame_closes_only_that_connection(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim()
    client = await make_client(sim)
    raw = await RawLink.open(sim.port)
    try:
        bind = Bind(sequence=SequenceNumber(1, 2, 3), login_name=ACCOUNT, login_password=PASSWORD)
        assert await raw.send(bind) == BindResp(sequence=SequenceNumber(1, 2, 3))
        raw.writer.write(b"\x00\x00\x00\x18\x12\x34\x56\x78" + bytes(16))  # unknown command
        assert await raw.closed_by_peer()
    finally:
        raw.close()
    garbage = await RawLink.open(sim.port)
    try:
        garbage.writer.write(b"\x00\x00\x00\x05hello")
        assert await garbage.closed_by_peer()
    finally:
        garbage.close()
    assert (await client.submit(_message())).accepted


async def test_simulator_refuses_numbers_without_86(make_sim: Any) -> None:
    sim = await make_sim()
    raw = await RawLink.open(sim.port)
    try:
        await raw.send(Bind(login_name=ACCOUNT, login_password=PASSWORD))
        submit = Submit(sequence=SequenceNumber(9, 9, 9), user_numbers=(HANDSET,))
        response = await raw.send(submit)
        assert response == SubmitResp(sequence=submit.sequence, result=Result.ILLEGAL_MOBILE_NUMBER)
    finally:
        raw.close()


async def test_simulator_refuses_bad_login_type(make_sim: Any) -> None:
    sim = await make_sim()
    raw = await RawLink.open(sim.port)
    try:
        response = await raw.send(Bind(login_type=2, login_name=ACCOUNT, login_password=PASSWORD))
        assert isinstance(response, BindResp) and response.result == Result.BAD_LOGIN_TYPE
        assert await raw.closed_by_peer()
    finally:
        raw.close()


async def test_listener_dedupes_resent_reports(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim()
    inbox = Inbox()
    client = await make_client(sim, inbox)
    raw = await RawLink.open(client.listen_port)
    try:
        bind = Bind(login_type=2, login_name=ACCOUNT, login_password=PASSWORD)
        assert await raw.send(bind) == BindResp()
        report = Report(
            sequence=SequenceNumber(101001, 1128143102, 88),
            submit_sequence=SequenceNumber(3010012345, 1128143015, 2),
            user_number="8613012345678",
        )
        assert await raw.send(report) == ReportResp(sequence=report.sequence)
        assert await raw.send(report) == ReportResp(sequence=report.sequence)
        changed = dataclasses.replace(report, state=2, error_code=25)
        answer = await raw.send(changed)
        assert answer == ReportResp(sequence=report.sequence, result=Result.ILLEGAL_SEQUENCE)
        pending = Report(sequence=SequenceNumber(101001, 1128143102, 89), state=1)
        assert await raw.send(pending) == ReportResp(sequence=pending.sequence)
        submit = Submit(sequence=SequenceNumber(1, 1, 1), user_numbers=("8613012345678",))
        refused = await raw.send(submit)
        assert refused == SubmitResp(sequence=submit.sequence, result=Result.FUNCTION_NOT_PROVIDED)
    finally:
        raw.close()
    first = await inbox.next()
    assert isinstance(first, CarrierReport)
    assert first.carrier_id == "3010012345:1128143015:2"
    assert inbox.queue.empty()


async def test_listener_refuses_login_type_1(make_sim: Any, make_client: Any) -> None:
    sim = await make_sim()
    client = await make_client(sim)
    raw = await RawLink.open(client.listen_port)
    try:
        response = await raw.send(Bind(login_type=1, login_name=ACCOUNT, login_password=PASSWORD))
        assert isinstance(response, BindResp) and response.result == Result.BAD_LOGIN_TYPE
        assert await raw.closed_by_peer()
    finally:
        raw.close()
