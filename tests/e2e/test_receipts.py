"""Receipts mean what SMPP says, through the whole platform: HTTP send → an SMPP channel to a
small SMSC on a real socket (written with the project's codec) → /smsreport and /smsmo.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from duanxin.domain.encoding import Alphabet, DataCoding, decode_text
from duanxin.domain.gsm import encode_gsm
from duanxin.protocols.smpp import DeliverSm, MessageState
from duanxin.protocols.smpp.pdu import EsmMessageType
from duanxin.protocols.smpp.receipt import DeliveryReceipt, format_receipt
from duanxin.protocols.smpp.tlv import TlvTag, int_tlv, text_tlv
from duanxin.service import admin
from duanxin.simulator.core import SimulatorConfig, SimulatorServer
from duanxin.simulator.faults import parse_faults
from duanxin.simulator.registry import create_simulator
from tests.conftest import Stack
from tests.e2e.helpers import (
    MOBILE,
    TELECOM,
    UNICOM,
    assert_send_ok,
    collect_reports,
    pull_replies,
    pull_reports,
    send_form,
)
from tests.protocols.smpp.peer import PeerSmsc

ACCESS_CODE = "10690009"
HANDSET = "86" + MOBILE


@pytest.fixture
async def smsc() -> AsyncIterator[PeerSmsc]:
    peer = PeerSmsc()
    await peer.start()
    yield peer
    await peer.stop()


async def route_to(stack: Stack, smsc: PeerSmsc, alphabet: Alphabet | None = None) -> None:
    """China Mobile numbers of the demo account go over an SMPP channel to ``smsc``."""
    platform = stack.running.platform
    await admin.add_channel(
        platform,
        admin.ChannelSpec(
            name="intl-smpp",
            protocol="smpp",
            host="127.0.0.1",
            port=smsc.port,
            account="esme",
            password="secret",
            access_code=ACCESS_CODE,
            settings={} if alphabet is None else {"alphabet": alphabet.value},
        ),
    )
    await admin.add_route(platform, stack.facts.account, "cmcc", ["intl-smpp"])
    assert stack.running.worker is not None
    await stack.running.worker.reload()
    await smsc.wait_bound()


def deliver(text: bytes, esm_class: int = 0, **fields: object) -> DeliverSm:
    return DeliverSm(
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr=HANDSET,
        destination_addr=ACCESS_CODE,
        esm_class=esm_class,
        short_message=text,
        **fields,  # type: ignore[arg-type]
    )


def receipt(message_id: str, stat: str, state: MessageState, esm_class: int) -> DeliverSm:
    text = format_receipt(DeliveryReceipt(message_id=message_id, stat=stat))
    tlvs = (
        text_tlv(TlvTag.RECEIPTED_MESSAGE_ID, message_id),
        int_tlv(TlvTag.MESSAGE_STATE, state, 1),
    )
    return deliver(text.encode("ascii"), esm_class, tlvs=tlvs)


async def test_enroute_and_acknowledgements_then_delivered_report_once(
    stack: Stack, smsc: PeerSmsc
) -> None:
    await route_to(stack, smsc)
    (item,) = assert_send_ok(
        await send_form(stack, {"mobile": MOBILE, "content": "您的验证码是2468"})
    )
    await smsc.wait_submits(1)
    (carrier_id,) = smsc.message_ids
    receipt_type = EsmMessageType.DELIVERY_RECEIPT
    for pdu in (
        receipt(carrier_id, "ENROUTE", MessageState.ENROUTE, receipt_type),
        receipt(carrier_id, "DELIVRD", MessageState.DELIVERED, EsmMessageType.DELIVERY_ACK),
        deliver(b"read by the user", EsmMessageType.MANUAL_ACK),
        deliver(b"stat:ENROUTE", EsmMessageType.INTERMEDIATE_NOTIFICATION),
        receipt(carrier_id, "DELIVRD", MessageState.DELIVERED, receipt_type),
    ):
        assert (await smsc.deliver(pdu)).command_status == 0
    reports = await collect_reports(stack, [item["mid"]])
    assert [r["stat"] for r in reports[item["mid"]]] == ["DELIVRD"]
    assert (await pull_reports(stack))["list"] == []
    # every deliver_sm above was answered after it was handled: none became a reply
    assert (await pull_replies(stack))["list"] == []


async def test_gsm_reply_reaches_smsmo_intact(stack: Stack, smsc: PeerSmsc) -> None:
    await route_to(stack, smsc, Alphabet.GSM7)
    await smsc.deliver(deliver(encode_gsm("@£_{}€ TD?"), data_coding=DataCoding.ASCII))
    replies: list[dict[str, object]] = []

    async def arrived() -> bool:
        replies.extend((await pull_replies(stack))["list"])
        return bool(replies)

    await stack.wait_for(arrived)
    (reply,) = replies
    assert (reply["mobile"], reply["content"]) == (MOBILE, "@£_{}€ TD?")


async def test_gsm_channel_mt_arrives_intact(stack: Stack, smsc: PeerSmsc) -> None:
    await route_to(stack, smsc, Alphabet.GSM7)
    content = "【duanxin】code @£_{}€"
    assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": content}))
    (submit,) = await smsc.wait_submits(1)
    # the signature's brackets are in no 7-bit alphabet: the message goes as UCS-2
    assert submit.data_coding == DataCoding.UCS2
    assert decode_text(submit.short_message, submit.data_coding, Alphabet.GSM7) == content


# ------------------------------------------- the built-in simulators' fault profiles

NUMBER_ON = {"cmpp": MOBILE, "sgip": UNICOM, "smgp": TELECOM, "smpp": MOBILE}
NETWORK_ON = {"cmpp": "cmcc", "sgip": "cucc", "smgp": "ctcc", "smpp": "cmcc"}
FAULTY_CODE = "1069555"


async def faulty_gateway(stack: Stack, protocol: str, faults: str) -> SimulatorServer:
    """A simulator playing ``faults``, and the demo account's route for its network to it."""
    config = SimulatorConfig(report_delay=0.02, seed=1, faults=parse_faults(faults))
    simulator = create_simulator(protocol, config)
    await simulator.start()
    platform = stack.running.platform
    settings: dict[str, object] = {"response_timeout": 10.0}
    if protocol == "sgip":
        settings.update(listen_host="127.0.0.1", listen_port=0)
    await admin.add_channel(
        platform,
        admin.ChannelSpec(
            name=f"faulty-{protocol}",
            protocol=protocol,
            host="127.0.0.1",
            port=simulator.port,
            account=stack.facts.spid[:5] if protocol == "sgip" else stack.facts.spid,
            password="secret",
            access_code=FAULTY_CODE,
            service_id="DEMO",
            sp_code=stack.facts.spid[:5] if protocol == "sgip" else stack.facts.spid,
            settings=settings,
        ),
    )
    await admin.add_route(
        platform, stack.facts.account, NETWORK_ON[protocol], [f"faulty-{protocol}"]
    )
    worker = stack.running.worker
    assert worker is not None
    await worker.reload()
    channel = next(c for c in worker.pool.channels.values() if c.name == f"faulty-{protocol}")
    if protocol == "sgip":  # the gateway connects back to our listener
        simulator.sp_address = ("127.0.0.1", channel.clients[0].listen_port)  # type: ignore[attr-defined]

    async def up() -> bool:
        return channel.is_up

    await stack.wait_for(up)
    return simulator


@pytest.mark.parametrize(
    ("protocol", "faults"),
    [
        ("cmpp", "enroute"),
        ("sgip", "enroute"),
        ("smgp", "enroute"),
        ("smpp", "ack-deliver"),
        ("smpp", "enroute,ack-deliver"),
        ("smpp", "enroute,ack-deliver,decimal-ids"),
        ("smpp", "enroute,ack-deliver,hex-ids"),
    ],
)
async def test_simulator_intermediate_receipts_and_acks_leave_one_final_report(
    stack: Stack, protocol: str, faults: str
) -> None:
    simulator = await faulty_gateway(stack, protocol, faults)
    try:
        mobile = NUMBER_ON[protocol]
        (item,) = assert_send_ok(
            await send_form(stack, {"mobile": mobile, "content": "您的验证码是1357"})
        )
        reports = await collect_reports(stack, [item["mid"]])
        assert [r["stat"] for r in reports[item["mid"]]] == ["DELIVRD"]
        behaviour = simulator.behaviour
        assert behaviour.reports_sent == 1
        assert behaviour.intermediate_reports == (1 if "enroute" in faults else 0)
        assert behaviour.acks_sent == (2 if "ack-deliver" in faults else 0)
        # A reply sent after them is stored after anything they could have become.
        await simulator.inject_mo(mobile, FAULTY_CODE, "好的")
        replies: list[dict[str, object]] = []

        async def replied() -> bool:
            replies.extend((await pull_replies(stack))["list"])
            return bool(replies)

        await stack.wait_for(replied)
        assert [r["content"] for r in replies] == ["好的"]
        assert (await pull_reports(stack))["list"] == []
    finally:
        await simulator.stop()
