"""pycmpp (a third-party CMPP 2.0 SP client) against CmppSimulator.

pycmpp builds CONNECT (Version 0x21), SUBMIT (2.0 layout, UCS-2) and TERMINATE and parses
CONNECT_RESP and SUBMIT_RESP; it has no DELIVER support at all, so the report DELIVER is
read off its socket and answered by hand here. Its own ``receive()`` loop is not used: it
never ends (it spins on a closed socket) and it answers ACTIVE_TEST with a malformed frame
(see ``test_pycmpp_active_test_resp_is_malformed``). The blocking library runs in a thread.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from pycmpp.cmpp import Cmpp
from pycmpp.cmpp_defines import CMPP_DELIVER_REQ, CMPP_TERMINATE_RESP
from pycmpp.request import ActiveTestRequestInstance
from pycmpp.response import (
    ActiveTestResponseInstance,
    ConnectResponseInstance,
    SubmitResponseInstance,
)
from pycmpp.utils import Pack

from duanxin.protocols.cmpp import CmppActiveTest, CmppActiveTestResp, CmppConnectStatus, Decoder
from duanxin.protocols.core.errors import ProtocolError
from duanxin.simulator.cmpp import CmppSimulator
from duanxin.simulator.core import SimulatorConfig
from tests.conftest import until

SP_ID, SECRET = "901234", "secret"
ACCESS_CODE, HANDSET = "1065712345", "13800138000"
TIMEOUT = 5.0
HEADER = struct.Struct(">III")
# 2.0 DELIVER: Msg_Id 8, Dest_Id 21, Service_Id 10, TP_pid, TP_udhi, Msg_Fmt,
# Src_terminal_Id 21, Registered_Delivery, Msg_Length; report: Msg_Id 8, Stat 7, ...
DELIVER_20_HEAD = struct.Struct(">Q21s10sBBB21sBB")
REPORT_20_HEAD = struct.Struct(">Q7s10s10s21sI")


@dataclass
class Interop:
    login_status: int
    login_version: int
    submit_status: int
    submit_msg_id: int
    report_msg_id: int | None
    report_stat: str
    report_registered_delivery: int
    terminated: bool


def _read_frame(sock: socket.socket) -> bytes:
    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed by the gateway")
            data += chunk
        return data

    header = exactly(4)
    (length,) = struct.unpack(">I", header)
    return header + exactly(length - 4)


def _deliver_resp_20(sequence_id: int, msg_id: int) -> bytes:
    body = struct.pack(">QB", msg_id, 0)
    return (
        Pack.get_unsigned_long_data(12 + len(body))
        + Pack.get_unsigned_long_data(0x80000005)
        + Pack.get_unsigned_long_data(sequence_id)
        + body
    )


def _run_pycmpp(port: int, password: str, text: str) -> Interop:
    client = Cmpp("127.0.0.1", port, SP_ID, password, ACCESS_CODE, delivery=1,
                  client_heartbeat=False)  # fmt: skip
    client.connect()
    client.so.settimeout(TIMEOUT)
    try:
        client.auth()
        login = ConnectResponseInstance()
        login.resolve(_read_frame(client.so))
        if login.status != 0:
            return Interop(login.status, login.version, -1, 0, None, "", -1, False)
        client.submit(text, [HANDSET])
        submitted = SubmitResponseInstance()
        submitted.resolve(_read_frame(client.so))
        frame = _read_frame(client.so)
        _, command, sequence_id = HEADER.unpack_from(frame)
        assert command == CMPP_DELIVER_REQ
        msg_id, _, _, _, _, _, _, registered, length = DELIVER_20_HEAD.unpack_from(frame, 12)
        content = frame[12 + DELIVER_20_HEAD.size : 12 + DELIVER_20_HEAD.size + length]
        report_msg_id, stat, *_ = REPORT_20_HEAD.unpack_from(content)
        client.send(_deliver_resp_20(sequence_id, msg_id))
        client.terminate()
        _, command, _ = HEADER.unpack_from(_read_frame(client.so))
        return Interop(
            login_status=login.status,
            login_version=login.version,
            submit_status=submitted.status,
            submit_msg_id=submitted.msg_id,
            report_msg_id=report_msg_id,
            report_stat=stat.decode("ascii"),
            report_registered_delivery=registered,
            terminated=command == CMPP_TERMINATE_RESP,
        )
    finally:
        client.close()


@pytest.fixture
async def simulator() -> AsyncIterator[CmppSimulator]:
    simulator = CmppSimulator(SimulatorConfig(account=SP_ID, password=SECRET, report_delay=0.01))
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_pycmpp_logs_in_submits_and_receives_the_report(simulator: CmppSimulator) -> None:
    result = await asyncio.to_thread(_run_pycmpp, simulator.port, SECRET, "你好，世界")
    assert result.login_status == CmppConnectStatus.OK
    assert result.login_version == 0x20  # a 0x21 CONNECT is served as 2.0
    assert result.submit_status == 0
    assert result.report_registered_delivery == 1
    assert result.report_msg_id == result.submit_msg_id
    assert result.report_stat == "DELIVRD"
    assert result.terminated
    (received,) = simulator.behaviour.received
    assert received.text == "你好，世界"
    assert received.destination == HANDSET
    assert received.carrier_ids == (f"{result.submit_msg_id:016x}",)


async def test_pycmpp_long_message_is_reassembled(simulator: CmppSimulator) -> None:
    text = "长" * 100  # pycmpp cuts at 64 characters with an 8-bit concatenation UDH
    result = await asyncio.to_thread(_run_pycmpp_long, simulator.port, text)
    assert result == [0, 0]
    await until(lambda: bool(simulator.behaviour.received), TIMEOUT)
    assert simulator.behaviour.received[0].text == text


def _run_pycmpp_long(port: int, text: str) -> list[int]:
    client = Cmpp("127.0.0.1", port, SP_ID, SECRET, ACCESS_CODE, client_heartbeat=False)
    client.connect()
    client.so.settimeout(TIMEOUT)
    try:
        client.auth()
        _read_frame(client.so)
        client.submit(text, [HANDSET])
        statuses = []
        for _ in range(2):
            response = SubmitResponseInstance()
            response.resolve(_read_frame(client.so))
            statuses.append(response.status)
        return statuses
    finally:
        client.close()


async def test_pycmpp_wrong_secret_is_refused(simulator: CmppSimulator) -> None:
    result = await asyncio.to_thread(_run_pycmpp, simulator.port, "wrong", "hi")
    assert result.login_status == CmppConnectStatus.AUTHENTICATION_FAILED


def test_pycmpp_active_test_resp_is_malformed() -> None:
    """pycmpp answers ACTIVE_TEST with Total_Length 13 followed by the 4 bytes ``b"0x00"``."""
    request = ActiveTestRequestInstance().create()
    (sequence_id,) = struct.unpack_from(">I", request, 8)
    decoder = Decoder()
    decoder.feed(request)
    assert list(decoder.pdus()) == [CmppActiveTest(sequence_id=sequence_id)]
    answer = ActiveTestResponseInstance().create(sequence_id)
    assert struct.unpack_from(">I", answer)[0] == 13
    assert len(answer) == 16  # three bytes more than it declares
    decoder.feed(answer)
    pdus = decoder.pdus()
    assert next(pdus) == CmppActiveTestResp(sequence_id=sequence_id)
    decoder.feed(b"\x00")  # any next byte: "x00?" is read as an absurd length
    with pytest.raises(ProtocolError):
        next(pdus)
