"""Third-party customers on the customer servers: pycmpp (CMPP 2.0) and smpplib (SMPP 3.4).

Both libraries block, so each scenario runs in a worker thread. pycmpp has no DELIVER
support, so the report DELIVER is read off its socket and answered by hand (as in
tests/protocols/cmpp/test_interop.py).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import smpplib.client
import smpplib.consts
import smpplib.gsm
from pycmpp.cmpp import Cmpp
from pycmpp.cmpp_defines import CMPP_DELIVER_REQ
from pycmpp.response import ConnectResponseInstance, SubmitResponseInstance
from pycmpp.utils import Pack

from duanxin.demo import ACCESS_CODES
from duanxin.domain.accounts import AccessType
from duanxin.domain.status import DELIVERED
from tests.access.conftest import address
from tests.conftest import Stack
from tests.e2e.helpers import add_account

TIMEOUT = 10.0
HEADER = struct.Struct(">III")
DELIVER_20_HEAD = struct.Struct(">Q21s10sBBB21sBB")
REPORT_20_HEAD = struct.Struct(">Q7s10s10s21sI")
MOBILE = "13800138041"


def _read_frame(sock: socket.socket) -> bytes:
    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise ConnectionError("closed by the server")
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


@dataclass
class PycmppRun:
    login_status: int
    submit_statuses: list[int] = field(default_factory=list)
    submit_ids: list[int] = field(default_factory=list)
    report_ids: list[int] = field(default_factory=list)
    report_stats: list[str] = field(default_factory=list)


def run_pycmpp(host: str, port: int, account: str, password: str, text: str) -> PycmppRun:
    client = Cmpp(host, port, account, password, ACCESS_CODES["cmpp"], delivery=1,
                  client_heartbeat=False)  # fmt: skip
    client.connect()
    client.so.settimeout(TIMEOUT)
    try:
        client.auth()
        login = ConnectResponseInstance()
        login.resolve(_read_frame(client.so))
        run = PycmppRun(login.status)
        if login.status != 0:
            return run
        client.submit(text, [MOBILE])
        segments = 1 if len(text) <= 64 else -(-len(text) // 64)  # pycmpp cuts at 64
        while len(run.submit_statuses) < segments or len(run.report_ids) < segments:
            frame = _read_frame(client.so)
            _, command, sequence_id = HEADER.unpack_from(frame)
            if command == CMPP_DELIVER_REQ:
                msg_id, *_, length = DELIVER_20_HEAD.unpack_from(frame, 12)
                content = frame[12 + DELIVER_20_HEAD.size : 12 + DELIVER_20_HEAD.size + length]
                report_id, stat, *_ = REPORT_20_HEAD.unpack_from(content)
                run.report_ids.append(report_id)
                run.report_stats.append(stat.decode("ascii"))
                client.send(_deliver_resp_20(sequence_id, msg_id))
            else:
                submitted = SubmitResponseInstance()
                submitted.resolve(frame)
                run.submit_statuses.append(submitted.status)
                run.submit_ids.append(submitted.msg_id)
                if submitted.status != 0:
                    return run
        client.terminate()
        return run
    finally:
        client.close()


async def pycmpp_account(stack: Stack) -> tuple[str, str]:
    """pycmpp sends Source_Addr unpadded: its account name must fill the 6 bytes."""
    login = await add_account(stack, "pycmpp", access_type=AccessType.CMPP)
    return login["account"], login["password"]


async def test_pycmpp_logs_in_submits_and_gets_the_report(stack: Stack) -> None:
    host, port = address(stack, "cmpp")
    account, password = await pycmpp_account(stack)
    run = await asyncio.to_thread(run_pycmpp, host, port, account, password, "您的订单已发货")
    assert run.login_status == 0
    assert run.submit_statuses == [0]
    assert run.report_ids == run.submit_ids
    assert run.report_stats == [DELIVERED]


async def test_pycmpp_long_message_each_segment_reported(stack: Stack) -> None:
    host, port = address(stack, "cmpp")
    text = "长" * 100
    account, password = await pycmpp_account(stack)
    run = await asyncio.to_thread(run_pycmpp, host, port, account, password, text)
    assert run.submit_statuses == [0, 0]
    assert sorted(run.report_ids) == sorted(run.submit_ids) and len(set(run.submit_ids)) == 2
    (received,) = stack.simulators["cmpp"].behaviour.received
    assert received.text.endswith(text)


async def test_pycmpp_wrong_password_is_refused_with_3(stack: Stack) -> None:
    host, port = address(stack, "cmpp")
    account, _ = await pycmpp_account(stack)
    run = await asyncio.to_thread(run_pycmpp, host, port, account, "wrong", "hi")
    assert run.login_status == 3


@dataclass
class SmpplibRun:
    bind_status: int = -1
    message_ids: list[str] = field(default_factory=list)
    receipts: list[Any] = field(default_factory=list)
    error: int | None = None


def run_smpplib(host: str, port: int, account: str, password: str, text: str) -> SmpplibRun:
    run = SmpplibRun()
    client = smpplib.client.Client(host, port, timeout=2.0, allow_unknown_opt_params=True)
    client.set_message_sent_handler(
        lambda pdu: run.message_ids.append(pdu.message_id.decode("ascii"))
    )
    client.set_message_received_handler(lambda pdu: run.receipts.append(pdu))
    client.connect()
    try:
        try:
            client.bind_transceiver(system_id=account, password=password)
        except smpplib.exceptions.PDUError as error:
            run.error = int(error.args[1])
            return run
        run.bind_status = 0
        parts, coding, esm_class = smpplib.gsm.make_parts(text)
        for part in parts:
            client.send_message(destination_addr=MOBILE, short_message=part,
                                data_coding=coding, esm_class=esm_class,
                                registered_delivery=1)  # fmt: skip
        deadline = time.monotonic() + TIMEOUT
        while len(run.receipts) < len(parts) and time.monotonic() < deadline:
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    return run


async def test_smpplib_binds_submits_and_gets_receipts(stack: Stack) -> None:
    host, port = address(stack, "smpp")
    run = await asyncio.to_thread(
        run_smpplib, host, port, stack.facts.account, stack.facts.password, "order 42 shipped"
    )
    assert run.bind_status == 0 and len(run.message_ids) == 1
    (receipt,) = run.receipts
    assert receipt.receipted_message_id.decode("ascii") == run.message_ids[0]
    assert b"stat:DELIVRD" in receipt.short_message


async def test_smpplib_long_message_in_udh_parts(stack: Stack) -> None:
    host, port = address(stack, "smpp")
    text = "你好，这是来自 smpplib 的长短信。" * 8
    run = await asyncio.to_thread(
        run_smpplib, host, port, stack.facts.account, stack.facts.password, text
    )
    assert len(run.message_ids) > 1
    got = sorted(r.receipted_message_id.decode("ascii") for r in run.receipts)
    assert got == sorted(run.message_ids)
    (received,) = stack.simulators["cmpp"].behaviour.received
    assert received.text.endswith(text)


async def test_smpplib_wrong_password(stack: Stack) -> None:
    host, port = address(stack, "smpp")
    run = await asyncio.to_thread(run_smpplib, host, port, stack.facts.account, "wrong", "x")
    assert run.error == smpplib.consts.SMPP_ESME_RINVPASWD
