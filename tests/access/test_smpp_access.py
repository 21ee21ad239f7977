"""The customer SMPP server through real sockets, with our own SMPP client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from duanxin.demo import ACCESS_CODES
from duanxin.domain.accounts import AccessType
from duanxin.domain.segments import split_message
from duanxin.domain.status import DELIVERED
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.pdu import CommandStatus
from duanxin.protocols.smpp.receipt import parse_receipt
from duanxin.protocols.smpp.status import MessageState
from duanxin.protocols.smpp.tlv import Tlv, TlvTag, int_tlv, tlv_int, tlv_text
from duanxin.service import admin
from tests.access.conftest import address
from tests.access.customers import SmppCustomer, smpp_customer
from tests.conftest import Stack
from tests.e2e.helpers import add_account

MOBILE = "13800138031"
UCS2 = 8
VENDOR = 0x400


async def bind(
    stack: Stack, kind: type[p.Bind] = p.BindTransceiver, **account: str
) -> SmppCustomer:
    name = account.get("account", stack.facts.account)
    password = account.get("password", stack.facts.password)
    return await smpp_customer(*address(stack, "smpp"), name, password, kind)


def receipts(customer: SmppCustomer) -> list[p.DeliverSm]:
    return [d for d in customer.delivers if d.esm_class == p.ESM_DELIVERY_RECEIPT]


def has_receipts(customer: SmppCustomer, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(receipts(customer)) >= count

    return check


@pytest.mark.parametrize("kind", [p.BindTransmitter, p.BindReceiver, p.BindTransceiver])
async def test_every_bind_type_is_accepted(stack: Stack, kind: type[p.Bind]) -> None:
    customer = await bind(stack, kind)
    assert customer.bind.command_status == 0
    await customer.close()


async def test_submit_sm_gets_a_hex_id_and_its_receipt(stack: Stack) -> None:
    customer = await bind(stack)
    answer = await customer.submit(MOBILE, "您的订单已发货".encode("utf-16-be"), data_coding=UCS2)
    assert answer.command_status == 0
    assert len(answer.message_id) == 16 and int(answer.message_id, 16)
    await stack.wait_for(has_receipts(customer, 1))
    (receipt,) = receipts(customer)
    assert tlv_text(receipt.tlvs, TlvTag.RECEIPTED_MESSAGE_ID) == answer.message_id
    assert tlv_int(receipt.tlvs, TlvTag.MESSAGE_STATE) == MessageState.DELIVERED
    parsed = parse_receipt(receipt.short_message.decode("ascii"))
    assert parsed is not None and parsed.message_id == answer.message_id
    assert parsed.stat == DELIVERED and parsed.dlvrd == 1
    assert receipt.source_addr == MOBILE
    await customer.close()


async def test_transmitter_gets_no_deliveries_receiver_does(stack: Stack) -> None:
    sender = await bind(stack, p.BindTransmitter)
    answer = await sender.submit(MOBILE, b"order shipped")
    receiver = await bind(stack, p.BindReceiver)
    await stack.wait_for(has_receipts(receiver, 1))
    assert tlv_text(receipts(receiver)[0].tlvs, TlvTag.RECEIPTED_MESSAGE_ID) == answer.message_id
    assert sender.delivers == []
    await sender.close()
    await receiver.close()


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"state": "disabled"}, VENDOR + 7),
        ({"ip_whitelist": "10.9.8.7"}, VENDOR + 2),
        ({"access_type": AccessType.BOTH.value}, VENDOR + 6),
        ({"max_concurrency": 1}, None),
    ],
)
async def test_bind_refusals(stack: Stack, change: dict[str, object], status: int | None) -> None:
    await admin.set_account(stack.running.platform, stack.facts.account, change)
    if status is None:  # the connection cap: the second bind is refused
        first = await bind(stack)
        assert first.bind.command_status == 0
        second = await bind(stack)
        assert second.bind.command_status == VENDOR + 21
        await first.close()
        return
    customer = await bind(stack)
    assert customer.bind.command_status == status
    await customer.session.closed


async def test_wrong_password_is_rinvpaswd(stack: Stack) -> None:
    customer = await bind(stack, password="wrong")
    assert customer.bind.command_status == CommandStatus.ESME_RINVPASWD


async def test_smpp_only_account(stack: Stack) -> None:
    only = await add_account(stack, "smpponly", access_type=AccessType.SMPP)
    short = {"account": only["account"], "password": "pw345678"}  # SMPP: 8 at most
    await admin.set_account(
        stack.running.platform, only["account"], {"password": short["password"]}
    )
    customer = await bind(stack, **short)
    assert customer.bind.command_status == 0
    await customer.close()


async def test_tps_limit_answers_throttled(stack: Stack) -> None:
    platform = stack.running.platform
    platform.monotonic = lambda: 500.0
    await admin.set_account(platform, stack.facts.account, {"tps": 1})
    customer = await bind(stack)
    first = await customer.submit("13800138032", b"order shipped")
    second = await customer.submit("13800138033", b"order shipped")
    assert first.command_status == 0
    assert second.command_status == CommandStatus.ESME_RTHROTTLED and second.message_id == ""
    await customer.close()


def _sar(reference: int, total: int, number: int) -> tuple[Tlv, ...]:
    return (
        int_tlv(TlvTag.SAR_MSG_REF_NUM, reference, 2),
        int_tlv(TlvTag.SAR_TOTAL_SEGMENTS, total, 1),
        int_tlv(TlvTag.SAR_SEGMENT_SEQNUM, number, 1),
    )


async def test_long_message_in_sar_segments(stack: Stack) -> None:
    customer = await bind(stack)
    text = "物流通知：您的包裹已到达本地配送站，今天下午送达。" * 6
    units = text.encode("utf-16-be")
    chunks = [units[i : i + 134] for i in range(0, len(units), 134)]
    answers = await asyncio.gather(
        *(
            customer.session.send_request(
                p.SubmitSm(
                    destination_addr=MOBILE,
                    data_coding=UCS2,
                    registered_delivery=1,
                    short_message=chunk,
                    tlvs=_sar(300, len(chunks), n),
                )
            )
            for n, chunk in enumerate(chunks, start=1)
        )
    )
    ids = [a.message_id for a in answers if isinstance(a, p.SubmitSmResp)]
    assert len(set(ids)) == len(chunks) > 1 and all(ids)
    await stack.wait_for(has_receipts(customer, len(chunks)))
    got = sorted(tlv_text(r.tlvs, TlvTag.RECEIPTED_MESSAGE_ID) or "" for r in receipts(customer))
    assert got == sorted(ids)
    (received,) = stack.simulators["cmpp"].behaviour.received
    assert received.text.endswith(text)
    await customer.close()


async def test_long_message_in_udh_segments(stack: Stack) -> None:
    customer = await bind(stack)
    text = "物流通知：您的包裹已到达本地配送站。" * 8
    segments = split_message(text, 44)
    answers = await asyncio.gather(
        *(
            customer.session.send_request(
                p.SubmitSm(
                    destination_addr=MOBILE,
                    data_coding=UCS2,
                    registered_delivery=1,
                    esm_class=p.ESM_UDHI,
                    short_message=s.user_data,
                )
            )
            for s in segments
        )
    )
    assert [a.command_status for a in answers] == [0] * len(segments)
    await stack.wait_for(has_receipts(customer, len(segments)))
    (received,) = stack.simulators["cmpp"].behaviour.received
    assert received.text.endswith(text)
    await customer.close()


async def test_message_payload_carries_a_long_text(stack: Stack) -> None:
    customer = await bind(stack)
    text = "物流通知：您的包裹已到达本地配送站。" * 8
    payload = Tlv(TlvTag.MESSAGE_PAYLOAD, text.encode("utf-16-be"))
    answer = await customer.submit(MOBILE, b"", data_coding=UCS2, tlvs=(payload,))
    assert answer.command_status == 0
    await stack.wait_for(has_receipts(customer, 1))
    (received,) = stack.simulators["cmpp"].behaviour.received
    assert received.text.endswith(text)
    await customer.close()


async def test_reply_is_an_ordinary_deliver_sm(stack: Stack) -> None:
    customer = await bind(stack, p.BindReceiver)
    await stack.simulators["cmpp"].inject_mo(MOBILE, ACCESS_CODES["cmpp"], "reply 1")

    async def arrived() -> bool:
        return bool(customer.delivers)

    await stack.wait_for(arrived)
    (reply,) = customer.delivers
    assert reply.esm_class == 0 and reply.short_message == b"reply 1"
    assert reply.source_addr == MOBILE
    await customer.close()


async def test_enquire_link_is_answered(stack: Stack) -> None:
    customer = await bind(stack)
    answer = await customer.session.request(p.EnquireLink())
    assert isinstance(answer, p.EnquireLinkResp) and answer.command_status == 0
    await customer.close()


async def test_receipts_in_flight_come_again_on_another_bind_exactly_once(stack: Stack) -> None:
    silent = await bind(stack)
    silent.answering = False
    ids = [(await silent.submit(m, b"order shipped")).message_id
           for m in ("13800138091", "13800138092")]  # fmt: skip
    await stack.wait_for(has_receipts(silent, 2))
    silent.session.abort("customer crashed")
    again = await bind(stack, p.BindReceiver)
    await stack.wait_for(has_receipts(again, 2))
    sender = await bind(stack, p.BindTransmitter)
    marker = await sender.submit("13800138093", b"order shipped")
    await stack.wait_for(has_receipts(again, 3))
    got = sorted(tlv_text(r.tlvs, TlvTag.RECEIPTED_MESSAGE_ID) or "" for r in receipts(again))
    assert got == sorted([*ids, marker.message_id])
    await sender.close()
    await again.close()


async def test_long_reply_goes_as_udh_deliver_sm(stack: Stack) -> None:
    customer = await bind(stack, p.BindReceiver)
    text = "这是一条很长的回复，" * 12
    await stack.simulators["cmpp"].inject_mo(MOBILE, ACCESS_CODES["cmpp"], text)

    async def arrived() -> bool:
        return len(customer.delivers) >= 2

    await stack.wait_for(arrived)
    assert all(d.esm_class & p.ESM_UDHI for d in customer.delivers)
    assert "".join(d.short_message[6:].decode("utf-16-be") for d in customer.delivers) == text
    await customer.close()
