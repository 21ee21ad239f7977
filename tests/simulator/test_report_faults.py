"""Report-side fault profiles, and reports kept while no link is up, over real sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from duanxin.protocols.cmpp.pdu import CmppDeliver
from duanxin.protocols.cmpp.report import CmppStatusReport
from duanxin.protocols.core.aio import SessionClosed
from duanxin.protocols.sgip.pdu import Report
from duanxin.protocols.smgp.pdu import SmgpDeliver
from duanxin.protocols.smgp.report import decode_report
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.receipt import parse_receipt
from duanxin.protocols.smpp.status import MessageState
from duanxin.protocols.smpp.tlv import TlvTag, tlv_int, tlv_text
from duanxin.simulator.registry import PROTOCOLS
from duanxin.simulator.smpp import INTERMEDIATE_TEXT, SME_ACK_TEXT
from tests.simulator.conftest import HANDSET, GatewayFactory, Inbox, until

SGIP_STATES = {0: "DELIVRD", 1: "WAITING", 2: "FAILED"}


def report_stats(received: list[Any]) -> list[str]:
    """The stat of every status report among the raw PDUs a client received, in order."""
    stats = []
    for pdu in received:
        if isinstance(pdu, CmppDeliver) and pdu.registered_delivery == 1:
            stats.append(CmppStatusReport.decode(pdu.msg_content).stat)
        elif isinstance(pdu, SmgpDeliver) and pdu.is_report == 1:
            stats.append(decode_report(pdu.msg_content).stat)
        elif isinstance(pdu, p.DeliverSm) and pdu.esm_class & 0x3C == p.ESM_DELIVERY_RECEIPT:
            receipt = parse_receipt(pdu.short_message.decode("latin-1"))
            assert receipt is not None
            stats.append(receipt.stat)
        elif isinstance(pdu, Report):
            stats.append(SGIP_STATES[pdu.state])
    return stats


FINAL = {"cmpp": "DELIVRD", "sgip": "DELIVRD", "smgp": "DELIVRD", "smpp": "DELIVRD"}
INTERMEDIATE = {"cmpp": "ENROUTE", "sgip": "WAITING", "smgp": "ENROUTE", "smpp": "ENROUTE"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_enroute_sends_an_intermediate_receipt_before_the_final(
    gateway: GatewayFactory, protocol: str
) -> None:
    gw = await gateway(protocol, "enroute")
    await gw.connect()
    assert (await gw.submit()).accepted
    await until(lambda: len(report_stats(gw.received)) == 2)
    assert report_stats(gw.received) == [INTERMEDIATE[protocol], FINAL[protocol]]
    assert gw.behaviour.intermediate_reports == 1
    assert gw.behaviour.reports_sent == 1


async def test_smpp_enroute_carries_the_enroute_message_state(gateway: GatewayFactory) -> None:
    gw = await gateway("smpp", "enroute")
    await gw.connect()
    await gw.submit()
    await until(lambda: len(gw.received) == 2)
    states = [tlv_int(pdu.tlvs, TlvTag.MESSAGE_STATE) for pdu in gw.received]
    assert states == [MessageState.ENROUTE, MessageState.DELIVERED]
    assert all(pdu.esm_class == p.ESM_DELIVERY_RECEIPT for pdu in gw.received)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_duplicate_reports_sends_every_report_twice(
    gateway: GatewayFactory, protocol: str
) -> None:
    gw = await gateway(protocol, "duplicate-reports")
    await gw.connect()
    await gw.submit("one")
    await gw.submit("two")
    await until(lambda: len(report_stats(gw.received)) == 4)
    assert gw.behaviour.duplicate_reports == 2
    assert gw.behaviour.reports_sent == 4
    await gw.settle()  # no third copy
    assert len(report_stats(gw.received)) == 4


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_early_reports_arrive_before_the_submit_response(
    gateway: GatewayFactory, protocol: str
) -> None:
    gw = await gateway(protocol, "early-reports")
    await gw.connect()
    pending = asyncio.ensure_future(gw.submit())
    gw.probe = pending.done
    result = await pending
    assert result.accepted
    assert len(report_stats(gw.received)) == 1
    assert gw.observed == [False]  # the report came while the submit was unanswered
    assert gw.behaviour.early_reports == 1
    (report,) = await gw.inbox.wait_for(1)
    assert report.carrier_id == result.carrier_ids[0]  # type: ignore[union-attr]


async def test_ack_deliver_sends_sme_ack_and_intermediate_notification(
    gateway: GatewayFactory,
) -> None:
    gw = await gateway("smpp", "ack-deliver")
    await gw.connect()
    await gw.submit()
    await until(lambda: len(gw.received) == 3)
    kinds = [(pdu.esm_class & p.ESM_MESSAGE_TYPE_MASK) for pdu in gw.received]
    assert kinds == [0x08, 0x20, p.ESM_DELIVERY_RECEIPT]
    assert gw.received[0].short_message == SME_ACK_TEXT.encode()
    assert gw.received[1].short_message == INTERMEDIATE_TEXT.encode()
    assert gw.behaviour.acks_sent == 2
    assert gw.behaviour.reports_sent == 1


@pytest.mark.parametrize(
    ("faults", "response_base", "receipt_base"),
    [("", 16, 16), ("decimal-ids", 16, 10), ("hex-ids", 10, 16)],
)
async def test_receipt_ids_in_the_other_base(
    gateway: GatewayFactory, faults: str, response_base: int, receipt_base: int
) -> None:
    gw = await gateway("smpp", faults)
    await gw.connect()
    result = await gw.submit()
    response_id = result.carrier_ids[0]
    await until(lambda: len(gw.received) == 1)
    (deliver,) = gw.received
    receipt = parse_receipt(deliver.short_message.decode("latin-1"))
    assert receipt is not None
    value = int(response_id, response_base)
    expected = f"{value:016X}" if receipt_base == 16 else str(value)
    assert receipt.message_id == expected
    assert tlv_text(deliver.tlvs, TlvTag.RECEIPTED_MESSAGE_ID) == expected
    if response_base == 10:
        assert response_id.isdigit()


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_reports_due_while_no_link_is_up_are_kept_and_sent_once_back(
    gateway: GatewayFactory, protocol: str
) -> None:
    gw = await gateway(protocol, report_delay=0.3)
    await gw.connect()
    results = [await gw.submit(f"m{n}") for n in range(3)]
    await gw.close_client()
    await until(lambda: gw.simulator.kept_reports == 3)
    assert gw.received == []
    await gw.connect()
    reports = await gw.inbox.wait_for(3)
    assert sorted(r.carrier_id for r in reports) == sorted(  # type: ignore[union-attr]
        r.carrier_ids[0] for r in results
    )
    assert gw.simulator.kept_reports == 0
    assert gw.behaviour.replayed == 3
    await gw.settle()
    assert len(gw.inbox.items) == 3  # each once


async def test_a_dropped_submit_is_reported_once_the_link_is_back(
    gateway: GatewayFactory,
) -> None:
    gw = await gateway("cmpp", "drop-every:1", report_delay=0.05)
    client = await gw.connect()
    with pytest.raises(SessionClosed):
        await gw.submit()
    (received,) = gw.behaviour.received
    await until(lambda: client.is_up)
    (report,) = await gw.inbox.wait_for(1)
    assert report.carrier_id == received.carrier_ids[0]  # type: ignore[union-attr]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_mo_kept_while_no_link_is_up_is_delivered_in_order_once_back(
    gateway: GatewayFactory, protocol: str
) -> None:
    gw = await gateway(protocol)
    access = gw.settings().access_code
    with pytest.raises(RuntimeError):
        await gw.simulator.inject_mo(HANDSET, access + "01", "lost")  # not kept: told
    for n in range(3):
        await gw.simulator.inject_mo(HANDSET, access + "01", f"reply {n}", keep=True)
    assert gw.simulator.kept_reports == 3
    await gw.connect()
    replies = await gw.inbox.wait_for(3)
    assert [r.text for r in replies] == ["reply 0", "reply 1", "reply 2"]  # type: ignore[union-attr]
    assert gw.behaviour.replayed == 3
    await gw.settle()
    assert len(gw.inbox.items) == 3


async def test_a_report_the_sp_never_answered_is_sent_again_on_the_next_link(
    gateway: GatewayFactory,
) -> None:
    gw = await gateway("smpp")
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    gw.inbox = lambda item: never  # type: ignore[assignment,misc,return-value]
    await gw.connect()
    result = await gw.submit()
    await until(lambda: len(gw.received) == 1)  # written, never answered
    await gw.close_client()
    await until(lambda: gw.simulator.kept_reports == 1)
    gw.inbox = Inbox()
    await gw.connect()
    (report,) = await gw.inbox.wait_for(1)
    assert report.carrier_id == result.carrier_ids[0]  # type: ignore[union-attr]
    assert gw.behaviour.replayed == 1
