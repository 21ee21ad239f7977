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
from tests.conftest import Stack
from tests.e2e.helpers import (
    MOBILE,
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
