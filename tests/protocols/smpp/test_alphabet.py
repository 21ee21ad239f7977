"""data_coding 0 in the channel's alphabet: MT text reaches an SMSC intact and MO text comes
back intact, over real loopback sockets (the SMSC is written with the project's codec)."""

from __future__ import annotations

import asyncio

import pytest

from duanxin.domain.encoding import Alphabet, DataCoding, decode_text
from duanxin.domain.gsm import BASIC, ESCAPE, EXTENSION, encode_gsm
from duanxin.domain.segments import Reassembler, parse_udh
from duanxin.protocols.carrier import CarrierMO, ChannelSettings, OutboundMessage
from duanxin.protocols.smpp import DeliverSm, open_client
from duanxin.protocols.smpp.pdu import EsmFeature
from duanxin.simulator.core import SimulatorConfig
from duanxin.simulator.smpp import SmppSimulator
from tests.protocols.smpp.peer import Connect, PeerSmsc

SENDER, HANDSET = "10690001", "8613800138000"
TEXT = "@£_{}€"
WHOLE_TABLE = "".join(ch for code, ch in enumerate(BASIC) if code != ESCAPE) + "".join(
    EXTENSION.values()
)


def mo(short_message: bytes, data_coding: int = 0, esm_class: int = 0) -> DeliverSm:
    return DeliverSm(
        source_addr_ton=1,
        source_addr_npi=1,
        source_addr=HANDSET,
        destination_addr=SENDER,
        esm_class=esm_class,
        data_coding=data_coding,
        short_message=short_message,
    )


@pytest.mark.parametrize(
    ("alphabet", "coding", "wire"),
    [
        (Alphabet.GSM7, DataCoding.ASCII, bytes.fromhex("0001111b281b291b65")),
        (Alphabet.ASCII, DataCoding.UCS2, TEXT.encode("utf-16-be")),  # £ € are not ASCII
        (Alphabet.LATIN1, DataCoding.UCS2, TEXT.encode("utf-16-be")),  # € is not Latin-1
    ],
)
async def test_mt_reaches_the_smsc_intact(
    peer: PeerSmsc, connect_peer: Connect, alphabet: Alphabet, coding: int, wire: bytes
) -> None:
    client, _ = await connect_peer(peer, alphabet=alphabet)
    assert (await client.submit(OutboundMessage(SENDER, "13800138000", TEXT))).accepted
    (submit,) = peer.submits
    assert (submit.data_coding, submit.short_message) == (coding, wire)
    assert decode_text(submit.short_message, submit.data_coding, alphabet) == TEXT


async def test_the_whole_gsm_table_goes_in_one_submit(
    peer: PeerSmsc, connect_peer: Connect
) -> None:
    client, _ = await connect_peer(peer, alphabet=Alphabet.GSM7)
    assert (await client.submit(OutboundMessage(SENDER, "13800138000", WHOLE_TABLE))).accepted
    (submit,) = peer.submits
    assert submit.data_coding == 0 and submit.short_message == encode_gsm(WHOLE_TABLE)
    assert len(submit.short_message) == 127 + 2 * len(EXTENSION)  # one octet per septet


async def test_long_gsm_mt_segments_reassemble(peer: PeerSmsc, connect_peer: Connect) -> None:
    text = ("{€} " * 60)[:-1]  # 239 characters, 419 septets: three segments
    client, _ = await connect_peer(peer, alphabet=Alphabet.GSM7)
    result = await client.submit(OutboundMessage(SENDER, "13800138000", text, reference=5))
    assert len(result.carrier_ids) == 3
    reassembler, whole = Reassembler(), None
    for submit in peer.submits:
        assert submit.esm_class & EsmFeature.UDHI and submit.data_coding == 0
        info, body = parse_udh(submit.short_message)
        assert info is not None and len(body) <= 153
        whole = reassembler.add("k", info, decode_text(body, 0, Alphabet.GSM7), 0.0)
    assert whole == text


@pytest.mark.parametrize("text", [TEXT, WHOLE_TABLE], ids=["@£_{}€", "whole table"])
async def test_gsm_mo_comes_back_intact(peer: PeerSmsc, connect_peer: Connect, text: str) -> None:
    _, inbox = await connect_peer(peer, alphabet=Alphabet.GSM7)
    await peer.deliver(mo(encode_gsm(text)))
    assert await inbox.next() == CarrierMO(HANDSET, SENDER, text, None)


async def test_long_gsm_mo_comes_back_in_segments(peer: PeerSmsc, connect_peer: Connect) -> None:
    _, inbox = await connect_peer(peer, alphabet=Alphabet.GSM7)
    parts = ["@£_" * 51, "{}€"]
    for number, part in enumerate(parts, start=1):
        udh = bytes((5, 0, 3, 0x42, 2, number))
        await peer.deliver(mo(udh + encode_gsm(part), esm_class=EsmFeature.UDHI))
    reassembler, whole = Reassembler(), None
    for _ in parts:
        segment = await inbox.next()
        assert isinstance(segment, CarrierMO) and segment.concat is not None
        whole = reassembler.add("k", segment.concat, segment.text, 0.0)
    assert whole == "".join(parts)


async def test_the_same_bytes_read_differently_on_an_ascii_channel(
    peer: PeerSmsc, connect_peer: Connect
) -> None:
    _, inbox = await connect_peer(peer)  # the default: ascii, as before
    await peer.deliver(mo(b"a_b{c}"))
    assert await inbox.next() == CarrierMO(HANDSET, SENDER, "a_b{c}", None)
    await peer.deliver(mo(encode_gsm(TEXT)))
    received = await inbox.next()
    assert isinstance(received, CarrierMO) and received.text != TEXT


async def test_the_built_in_simulator_speaks_the_gsm_alphabet_both_ways() -> None:
    simulator = SmppSimulator(SimulatorConfig(report_delay=60, alphabet=Alphabet.GSM7))
    await simulator.start()
    settings = ChannelSettings("127.0.0.1", simulator.port, "esme", "pw", alphabet=Alphabet.GSM7)
    inbox: asyncio.Queue[object] = asyncio.Queue()
    client = open_client(settings, inbox.put_nowait)
    try:
        await client.start()
        assert await client.wait_up(5)
        assert (await client.submit(OutboundMessage(SENDER, "13800138000", TEXT))).accepted
        (received,) = simulator.behaviour.received
        assert received.text == TEXT
        await simulator.inject_mo("13800138000", SENDER, WHOLE_TABLE)  # fits one message
        reply = await asyncio.wait_for(inbox.get(), 5)
        assert isinstance(reply, CarrierMO) and reply.text == WHOLE_TABLE
    finally:
        await client.close()
        await simulator.stop()
