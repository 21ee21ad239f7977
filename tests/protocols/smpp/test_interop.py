"""smpplib (a third-party ESME) against our simulated SMSC: bind, submit, receipt, long text.

smpplib is blocking, so each scenario runs in a worker thread (``asyncio.to_thread``) with
socket timeouts, while the simulator serves on the test's event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import smpplib.client
import smpplib.consts
import smpplib.gsm

from duanxin.simulator.core import SimulatorConfig
from duanxin.simulator.smpp import SmppSimulator

ACCOUNT, PASSWORD = "smppclient1", "password"
SENDER, HANDSET = "10690001", "8613800138000"
TIMEOUT = 5.0
RECEIPT = 0x04


@dataclass
class Session:
    """What the smpplib client saw."""

    bind_system_id: bytes = b""
    message_ids: list[bytes] = field(default_factory=list)
    delivered: list[Any] = field(default_factory=list)


def run_esme(port: int, parts: list[bytes], data_coding: int, esm_class: int) -> Session:
    """Bind as transceiver, submit ``parts`` asking for receipts, read until all receipts."""
    seen = Session()
    client = smpplib.client.Client("127.0.0.1", port, timeout=0.2, allow_unknown_opt_params=True)
    client.set_message_sent_handler(lambda pdu: seen.message_ids.append(pdu.message_id))
    client.set_message_received_handler(lambda pdu: seen.delivered.append(pdu))
    client.connect()
    try:
        bound = client.bind_transceiver(system_id=ACCOUNT, password=PASSWORD)
        seen.bind_system_id = bound.system_id
        for part in parts:
            client.send_message(
                source_addr_ton=0,
                source_addr_npi=1,
                source_addr=SENDER,
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr=HANDSET,
                short_message=part,
                data_coding=data_coding,
                esm_class=esm_class,
                registered_delivery=1,
            )
        deadline = time.monotonic() + TIMEOUT
        while len(seen.delivered) < len(parts) and time.monotonic() < deadline:
            client.read_once()  # on a socket timeout it sends enquire_link and returns
        client.unbind()
    finally:
        client.disconnect()
    return seen


@pytest.fixture
async def simulator() -> AsyncIterator[SmppSimulator]:
    config = SimulatorConfig(account=ACCOUNT, password=PASSWORD, report_delay=0.01)
    simulator = SmppSimulator(config)
    await simulator.start()
    yield simulator
    await simulator.stop()


async def test_smpplib_bind_submit_and_receipt(simulator: SmppSimulator) -> None:
    seen = await asyncio.to_thread(
        run_esme, simulator.port, [b"hello from smpplib"], smpplib.consts.SMPP_ENCODING_DEFAULT, 0
    )
    assert seen.bind_system_id == b"SMSC"
    (message_id,) = seen.message_ids
    (receipt,) = seen.delivered
    assert receipt.esm_class & 0x3C == RECEIPT
    assert receipt.receipted_message_id == message_id
    assert receipt.message_state == 2
    assert f"id:{message_id.decode()} ".encode() in receipt.short_message
    assert b"stat:DELIVRD" in receipt.short_message
    (received,) = simulator.behaviour.received
    assert received.text == "hello from smpplib"
    assert received.carrier_ids == (message_id.decode(),)


async def test_smpplib_long_ucs2_message(simulator: SmppSimulator) -> None:
    text = "你好，这是来自 smpplib 的长短信。" * 8
    parts, coding, esm_class = smpplib.gsm.make_parts(text)
    assert coding == smpplib.consts.SMPP_ENCODING_ISO10646 and len(parts) > 1
    seen = await asyncio.to_thread(run_esme, simulator.port, parts, coding, esm_class)
    assert len(seen.message_ids) == len(parts)
    assert {r.receipted_message_id for r in seen.delivered} == set(seen.message_ids)
    (received,) = simulator.behaviour.received
    assert received.text == text
