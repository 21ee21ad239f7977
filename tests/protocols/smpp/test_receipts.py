"""Which deliver_sm is a report, a reply or neither, and which receipt is final: the SMPP
client against a small SMSC written with the project's codec, over real loopback sockets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from duanxin.protocols.carrier import (
    CarrierMO,
    CarrierReport,
    CarrierSessionClient,
    ChannelSettings,
    Inbound,
    OutboundMessage,
)
from duanxin.protocols.core.sequence import Backoff
from duanxin.protocols.smpp import (
    CommandStatus,
    Decoder,
    DeliverSm,
    DeliverSmResp,
    MessageState,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    encode,
    open_client,
)
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.dialect import response_to
from duanxin.protocols.smpp.pdu import EsmFeature, EsmMessageType
from duanxin.protocols.smpp.receipt import DeliveryReceipt, format_receipt
from duanxin.protocols.smpp.tlv import TlvTag, int_tlv, text_tlv

SENDER, HANDSET = "10690001", "8613800138000"
WAIT = 5.0

Client = CarrierSessionClient[Pdu]


class PeerSmsc:
    """An SMSC reduced to what these tests need: it binds anyone, answers every submit_sm
    with message ids ``A1``, ``A2`` ... and sends the deliver_sm PDUs a test hands it."""

    def __init__(self) -> None:
        self.submits: list[SubmitSm] = []
        self.submitted = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._bound = asyncio.Event()
        self._answers: dict[int, asyncio.Future[Pdu]] = {}
        self._sequences = itertools.count(1000)
        self._ids = itertools.count(0xA1)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def deliver(self, pdu: DeliverSm) -> Pdu:
        """Send ``pdu`` on the bound connection; the ESME's answer."""
        await asyncio.wait_for(self._bound.wait(), WAIT)
        assert self._writer is not None
        sequence = next(self._sequences)
        answer = self._answers[sequence] = asyncio.get_running_loop().create_future()
        self._writer.write(encode(dataclasses.replace(pdu, sequence_number=sequence)))
        return await asyncio.wait_for(answer, WAIT)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        decoder = Decoder()
        while data := await reader.read(65536):
            decoder.feed(data)
            for pdu in decoder.pdus():
                self._receive(pdu, writer)
        writer.close()

    def _receive(self, pdu: Pdu, writer: asyncio.StreamWriter) -> None:
        if pdu.command_id & p.RESPONSE_BIT:
            future = self._answers.pop(pdu.sequence_number, None)
            if future is not None and not future.done():
                future.set_result(pdu)
            return
        answer = response_to(pdu)
        if isinstance(pdu, p.BindTransceiver):
            answer = p.BindTransceiverResp(sequence_number=pdu.sequence_number, system_id="PEER")
            self._bound.set()
        elif isinstance(pdu, SubmitSm):
            self.submits.append(pdu)
            self.submitted.set()
            answer = SubmitSmResp(
                sequence_number=pdu.sequence_number, message_id=f"{next(self._ids):X}"
            )
        writer.write(encode(answer))


class Inbox:
    """What the client hands to ``on_inbound``, in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Inbound] = asyncio.Queue()

    def __call__(self, inbound: Inbound) -> None:
        self.queue.put_nowait(inbound)

    async def next(self) -> Inbound:
        return await asyncio.wait_for(self.queue.get(), WAIT)


Connect = Callable[..., Awaitable[tuple[Client, Inbox]]]


@pytest.fixture
async def peer() -> AsyncIterator[PeerSmsc]:
    smsc = PeerSmsc()
    await smsc.start()
    yield smsc
    await smsc.stop()


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    clients: list[Client] = []

    async def start(smsc: PeerSmsc, **kwargs: Any) -> tuple[Client, Inbox]:
        settings = ChannelSettings("127.0.0.1", smsc.port, "esme", "secret", **kwargs)
        inbox = Inbox()
        client = open_client(settings, inbox, backoff=Backoff(initial=0.01, maximum=0.05))
        clients.append(client)
        await client.start()
        assert await client.wait_up(WAIT), client.last_error
        return client, inbox

    yield start
    for client in clients:
        await client.close()


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
    peer: PeerSmsc, connect: Connect, message_type: EsmMessageType
) -> None:
    _, inbox = await connect(peer)
    for esm_class in (message_type, message_type | EsmFeature.UDHI):
        body = b"\x05\x00\x03\x07\x01\x01ack" if esm_class & EsmFeature.UDHI else b"ack text"
        answer = await peer.deliver(mo(body, esm_class))
        assert answer == DeliverSmResp(sequence_number=answer.sequence_number)
    # a real reply sent after them is the first (and only) thing handed on
    await peer.deliver(mo(b"TD"))
    assert await inbox.next() == CarrierMO(HANDSET, SENDER, "TD", None)
    assert inbox.queue.empty()


async def test_an_acknowledgement_with_receipt_text_is_not_a_report(
    peer: PeerSmsc, connect: Connect
) -> None:
    client, inbox = await connect(peer)
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
    peer: PeerSmsc, connect: Connect, with_tlvs: bool
) -> None:
    client, inbox = await connect(peer)
    carrier_id = await submit(client)
    enroute = receipt(carrier_id, "ENROUTE", MessageState.ENROUTE if with_tlvs else None)
    assert (await peer.deliver(enroute)).command_status == CommandStatus.ESME_ROK
    delivered = receipt(carrier_id, "DELIVRD", MessageState.DELIVERED if with_tlvs else None)
    assert (await peer.deliver(delivered)).command_status == CommandStatus.ESME_ROK
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert (report.carrier_id, report.stat) == (carrier_id, "DELIVRD")
    assert inbox.queue.empty()


async def test_the_message_state_tlv_decides_finality(peer: PeerSmsc, connect: Connect) -> None:
    client, inbox = await connect(peer)
    carrier_id = await submit(client)
    # the text says DELIVRD, the TLV says ENROUTE: not final
    await peer.deliver(receipt(carrier_id, "DELIVRD", MessageState.ENROUTE))
    # ACCEPTED is a final state in SMPP (notes §7.3 mark only ENROUTE as not final)
    await peer.deliver(receipt(carrier_id, "ACCEPTD", MessageState.ACCEPTED))
    report = await inbox.next()
    assert isinstance(report, CarrierReport)
    assert report.stat == "ACCEPTD"
    assert inbox.queue.empty()
