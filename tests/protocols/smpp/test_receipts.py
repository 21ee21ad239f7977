"""Which deliver_sm is a report, a reply or neither, and which receipt is final: the SMPP
client against a small SMSC written with the project's codec, over real loopback sockets.
"""

from __future__ import annotations

from typing import Any

import pytest

from duanxin.protocols.carrier import CarrierMO, CarrierReport, OutboundMessage
from duanxin.protocols.smpp import CommandStatus, DeliverSm, DeliverSmResp, MessageState
from duanxin.protocols.smpp.pdu import EsmFeature, EsmMessageType
from duanxin.protocols.smpp.receipt import DeliveryReceipt, format_receipt
from duanxin.protocols.smpp.tlv import TlvTag, int_tlv, text_tlv
from tests.protocols.smpp.peer import Client, Connect, PeerSmsc

SENDER, HANDSET = "10690001", "8613800138000"


def mo(text: bytes, esm_class: int = 0, **fields: Any) -> DeliverSm:
    """A deliver_sm from the handset to our service number."""
    return DeliverSm(
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr=HANDSET,
        dest_addr_npi=1,
        destination_addr=SENDER,
        esm_class=esm_class,
        short_message=text,
        **fields,
    )


def receipt(
    message_id: str, stat: str, state: MessageState | None, *, esm_class: int = 0x04
) -> DeliverSm:
    """A delivery receipt as SMSCs write it: the text, and the TLVs unless ``state`` is None."""
    text = format_receipt(
        DeliveryReceipt(
            message_id=message_id,
            dlvrd=int(stat == "DELIVRD"),
            submit_date="2512011430",
            done_date="2512011431",
            stat=stat,
        )
    )
    tlvs = ()
    if state is not None:
        tlvs = (
            text_tlv(TlvTag.RECEIPTED_MESSAGE_ID, message_id),
            int_tlv(TlvTag.MESSAGE_STATE, state, 1),
        )
    return mo(text.encode("ascii"), esm_class, tlvs=tlvs)


async def submit(client: Client) -> str:
    result = await client.submit(OutboundMessage(SENDER, "13800138000", "code 1234"))
    assert result.accepted
    (carrier_id,) = result.carrier_ids
    return carrier_id


# ------------------------------------------------------------ acknowledgements


@pytest.mark.parametrize(
    "message_type",
    [
        EsmMessageType.DELIVERY_ACK,
        EsmMessageType.MANUAL_ACK,
        EsmMessageType.INTERMEDIATE_NOTIFICATION,
        EsmMessageType.CONVERSATION_ABORT,
    ],
    ids=lambda t: t.name,
)
async def test_acknowledgements_are_answered_and_never_become_replies(
    peer: PeerSmsc, connect_peer: Connect, message_type: EsmMessageType
) -> None:
    _, inbox = await connect_peer(peer)
    for esm_class in (message_type, message_type | EsmFeature.UDHI):
        body = b"\x05\x00\x03\x07\x01\x01ack" if esm_class & EsmFeature.UDHI else b"ack text"
        answer = await peer.deliver(mo(body, esm_class))
        assert answer == DeliverSmResp(sequence_number=answer.sequence_number)
    # a real reply sent after them is the first (and only) thing handed on
    await peer.deliver(mo(b"TD"))
    assert await inbox.next() == CarrierMO(HANDSET, SENDER, "TD", None)
    assert inbox.queue.empty()


async def test_an_acknowledgement_with_receipt_text_is_not_a_report(
    peer: PeerSmsc, connect_peer: Connect
) -> None:
    client, inbox = await connect_peer(peer)
    carrier_id = await submit(client)
    ack = receipt(carrier_id, "DELIVRD", MessageState.DELIVERED, esm_class=0x08)
    assert (await peer.deliver(ack)).command_status == CommandStatus.ESME_ROK
    await peer.deliver(receipt(carrier_id, "UNDELIV", MessageState.UNDELIVERABLE))
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert (report.carrier_id, report.stat) == (carrier_id, "UNDELIV")
    assert inbox.queue.empty()


# ------------------------------------------------------------ intermediate receipts


@pytest.mark.parametrize("with_tlvs", [True, False], ids=["message_state TLV", "receipt text only"])
async def test_enroute_then_delivered_gives_one_delivered_report(
    peer: PeerSmsc, connect_peer: Connect, with_tlvs: bool
) -> None:
    client, inbox = await connect_peer(peer)
    carrier_id = await submit(client)
    enroute = receipt(carrier_id, "ENROUTE", MessageState.ENROUTE if with_tlvs else None)
    assert (await peer.deliver(enroute)).command_status == CommandStatus.ESME_ROK
    delivered = receipt(carrier_id, "DELIVRD", MessageState.DELIVERED if with_tlvs else None)
    assert (await peer.deliver(delivered)).command_status == CommandStatus.ESME_ROK
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert (report.carrier_id, report.stat) == (carrier_id, "DELIVRD")
    assert inbox.queue.empty()


async def test_the_message_state_tlv_decides_finality(
    peer: PeerSmsc, connect_peer: Connect
) -> None:
    client, inbox = await connect_peer(peer)
    carrier_id = await submit(client)
    # the text says DELIVRD, the TLV says ENROUTE: not final
    await peer.deliver(receipt(carrier_id, "DELIVRD", MessageState.ENROUTE))
    # ACCEPTED is a final state in SMPP (notes §7.3 mark only ENROUTE as not final)
    await peer.deliver(receipt(carrier_id, "ACCEPTD", MessageState.ACCEPTED))
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert report.stat == "ACCEPTD"
    assert inbox.queue.empty()
