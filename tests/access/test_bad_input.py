"""Bad input on the customer ports: the offending connection is answered or closed, every
other connection keeps being served, nothing half written."""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

from duanxin.protocols.cmpp.auth import connect_request
from duanxin.protocols.cmpp.codec import encode
from duanxin.protocols.cmpp.pdu import CmppActiveTestResp, CmppSubmit, CmppVersion, CommandId
from duanxin.protocols.smpp import codec as smpp_codec
from duanxin.protocols.smpp import pdu as p
from duanxin.store import accounts as account_store
from duanxin.store import inbox
from tests.access.conftest import StackFactory, address
from tests.access.customers import cmpp_customer, smpp_customer
from tests.conftest import Stack

TIMEOUT = 10.0
MOBILE = "13800138051"


@asynccontextmanager
async def raw(
    stack: Stack, protocol: str
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    reader, writer = await asyncio.open_connection(*address(stack, protocol))
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server wrote before closing the connection."""
    return await asyncio.wait_for(reader.read(), TIMEOUT)


async def still_served(stack: Stack) -> None:
    customer = await cmpp_customer(*address(stack, "cmpp"), stack.facts.account,
                                   stack.facts.password)  # fmt: skip
    assert customer.login.status == 0
    answer = await customer.submit([MOBILE], b"order shipped")
    assert answer.result == 0
    await customer.close()


async def test_garbage_closes_that_connection_only(stack: Stack) -> None:
    async with raw(stack, "cmpp") as (reader, writer):
        writer.write(b"\xff" * 64)
        assert await closed_by_server(reader) == b""
    await still_served(stack)


async def test_overlong_length_is_closed(stack: Stack) -> None:
    for protocol in ("cmpp", "smpp"):
        async with raw(stack, protocol) as (reader, writer):
            writer.write(struct.pack(">III", 10_000_000, 4, 1))
            await closed_by_server(reader)
    await still_served(stack)


async def test_submit_before_login_is_closed(stack: Stack) -> None:
    submit = CmppSubmit(sequence_id=1, dest_terminal_ids=(MOBILE,), msg_content=b"hi")
    async with raw(stack, "cmpp") as (reader, writer):
        writer.write(encode(submit))
        await closed_by_server(reader)
    assert not stack.simulators["cmpp"].behaviour.received
    await still_served(stack)


async def test_smpp_submit_before_bind_is_refused_and_closed(stack: Stack) -> None:
    async with raw(stack, "smpp") as (reader, writer):
        writer.write(smpp_codec.encode(p.SubmitSm(sequence_number=3, destination_addr=MOBILE)))
        data = await closed_by_server(reader)
    # Answered before closing: the submit's response with ESME_RINVBNDSTS.
    _, command, status, sequence = struct.unpack_from(">IIII", data)
    assert (command, status, sequence) == (p.CommandId.SUBMIT_SM_RESP, 0x04, 3)
    await still_served(stack)


async def test_half_a_pdu_then_silence_is_closed_by_the_login_deadline(
    custom_stack: StackFactory,
) -> None:
    # The deadline holds for the customer that logs in afterwards too: short enough to
    # keep the test quick, long enough for a login on a loaded machine.
    async with custom_stack(access_login_timeout_seconds=2.0) as stack:
        request = encode(connect_request("demo", "x", datetime.now(), CmppVersion.V30))
        async with raw(stack, "cmpp") as (reader, writer):
            writer.write(request[:10])
            assert await closed_by_server(reader) == b""
        await still_served(stack)


async def test_connection_flood_from_one_address_is_capped(custom_stack: StackFactory) -> None:
    async with custom_stack(access_max_per_address=2) as stack:
        async with raw(stack, "cmpp"), raw(stack, "cmpp"), raw(stack, "cmpp") as (reader, _):
            assert await closed_by_server(reader) == b""  # the third is closed at once
        await still_served(stack)  # the first two gone: a login gets in again


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await asyncio.wait_for(reader.readexactly(8), TIMEOUT)
    length, command = struct.unpack(">II", header)
    return command, header + await reader.readexactly(length - 8)


async def test_silent_customer_is_closed_and_its_deliveries_released(
    custom_stack: StackFactory,
) -> None:
    async with custom_stack(access_heartbeat_seconds=0.2) as stack:
        platform = stack.running.platform
        async with raw(stack, "cmpp") as (reader, writer):
            login = connect_request(
                stack.facts.account, stack.facts.password, datetime.now(), CmppVersion.V30
            )
            writer.write(encode(login))
            assert (await read_frame(reader))[0] == CommandId.CONNECT_RESP
            sender = await smpp_customer(*address(stack, "smpp"), stack.facts.account,
                                         stack.facts.password, p.BindTransmitter)  # fmt: skip
            assert (await sender.submit(MOBILE, b"order shipped")).command_status == 0
            while True:  # alive until the report comes, which is never answered
                command, frame = await read_frame(reader)
                if command == CommandId.DELIVER:
                    break
                if command == CommandId.ACTIVE_TEST:
                    (sequence,) = struct.unpack_from(">I", frame, 8)
                    writer.write(encode(CmppActiveTestResp(sequence_id=sequence)))
            await sender.close()
            await closed_by_server(reader)  # silent past the heartbeat timeout: closed

        async def released() -> bool:
            async with platform.engine.connect() as conn:
                demo = await account_store.find_account(conn, stack.facts.account)
                assert demo is not None
                now = platform.clock()
                return await inbox.count_waiting(conn, inbox.Kind.REPORTS, demo.id, now) == 1

        await stack.wait_for(released)
