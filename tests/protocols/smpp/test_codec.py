"""SMPP codec: the notes' worked PDUs byte for byte, decoder framing, errors, round trips."""

from __future__ import annotations

import contextlib
import dataclasses
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duanxin.protocols.core.errors import LocalProtocolError, ProtocolError
from duanxin.protocols.core.table import CString, Int
from duanxin.protocols.smpp import (
    BindTransceiver,
    BindTransceiverResp,
    CommandId,
    CommandStatus,
    Decoder,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    FrameError,
    GenericNack,
    Pdu,
    SubmitSm,
    SubmitSmResp,
    Tlv,
    TlvTag,
    encode,
)
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.codec import FIELDS
from duanxin.protocols.smpp.codec import SHORT_MESSAGE as ShortMessage
from duanxin.protocols.smpp.codec import SUBMIT_MULTI_DESTS as SubmitMultiDests
from duanxin.protocols.smpp.codec import TLVS as Tlvs
from duanxin.protocols.smpp.codec import UNSUCCESS_LIST as UnsuccessList
from duanxin.protocols.smpp.codec import decode as decode_pdu
from duanxin.protocols.smpp.tlv import int_tlv, text_tlv, tlv_int, tlv_text

RECEIPT_TEXT = (
    b"id:1A2B3C4D sub:001 dlvrd:001 submit date:2511281430 done date:2511281431"
    b" stat:DELIVRD err:000 text:"
)

SAMPLES: list[tuple[str, Pdu]] = [
    (
        "0000002a00000009000000000000000173 6d7070636c69656e74310070617373776f726400003400 0000",
        BindTransceiver(sequence_number=1, system_id="smppclient1", password="password"),
    ),
    (
        "00000015800000090000000000000001534d534300",
        BindTransceiverResp(sequence_number=1, system_id="SMSC"),
    ),
    (
        "0000003a000000040000000000000002"
        "0000013130363930303031000101383631333830303133383030300000000000"
        "000100080004 4f60597d",
        SubmitSm(
            sequence_number=2,
            source_addr_npi=1,
            source_addr="10690001",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="8613800138000",
            registered_delivery=1,
            data_coding=8,
            short_message="你好".encode("utf-16-be"),
        ),
    ),
    (
        "00000019800000040000000000000002314132423343344400",
        SubmitSmResp(sequence_number=2, message_id="1A2B3C4D"),
    ),
    (
        "000000ac000000050000000000000055"
        "0001013836313338303031333830303000000131303639303030310004000000"
        "000000000064" + RECEIPT_TEXT.hex() + "001e0009314132423343344400042700 0102",
        DeliverSm(
            sequence_number=0x55,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="8613800138000",
            dest_addr_npi=1,
            destination_addr="10690001",
            esm_class=0x04,
            short_message=RECEIPT_TEXT,
            tlvs=(
                Tlv(TlvTag.RECEIPTED_MESSAGE_ID, b"1A2B3C4D\x00"),
                Tlv(TlvTag.MESSAGE_STATE, b"\x02"),
            ),
        ),
    ),
    ("000000118000000500000000000000 5500", DeliverSmResp(sequence_number=0x55)),
    ("00000010000000150000000000000003", EnquireLink(sequence_number=3)),
    ("00000010800000150000000000000003", EnquireLinkResp(sequence_number=3)),
    (
        "00000010800000000000000300000007",
        GenericNack(sequence_number=7, command_status=CommandStatus.ESME_RINVCMDID),
    ),
]
IDS = [type(pdu).__name__ for _, pdu in SAMPLES]


def wire(hex_text: str) -> bytes:
    return bytes.fromhex(hex_text.replace(" ", ""))


def decode_all(decoder: Decoder) -> list[Pdu]:
    return list(decoder.pdus())


# ------------------------------------------------------------------ golden vectors


@pytest.mark.parametrize(("hex_text", "pdu"), SAMPLES, ids=IDS)
def test_encode_matches_notes(hex_text: str, pdu: Pdu) -> None:
    assert encode(pdu) == wire(hex_text)


@pytest.mark.parametrize(("hex_text", "pdu"), SAMPLES, ids=IDS)
def test_decode_whole(hex_text: str, pdu: Pdu) -> None:
    decoder = Decoder()
    decoder.feed(wire(hex_text))
    assert decode_all(decoder) == [pdu]
    assert decoder.buffered == 0


@pytest.mark.parametrize(("hex_text", "pdu"), SAMPLES, ids=IDS)
def test_decode_one_byte_at_a_time(hex_text: str, pdu: Pdu) -> None:
    decoder = Decoder()
    data = wire(hex_text)
    seen: list[Pdu] = []
    for index in range(len(data)):
        decoder.feed(data[index : index + 1])
        got = decode_all(decoder)
        if index < len(data) - 1:
            assert got == []
        seen += got
    assert seen == [pdu]


@pytest.mark.parametrize(("hex_text", "pdu"), SAMPLES, ids=IDS)
def test_decode_leaves_trailing_bytes(hex_text: str, pdu: Pdu) -> None:
    decoder = Decoder()
    trailing = wire(SAMPLES[0][0])[:7]
    decoder.feed(wire(hex_text) + trailing)
    assert decode_all(decoder) == [pdu]
    assert decoder.buffered == len(trailing)


def test_all_samples_in_one_stream() -> None:
    decoder = Decoder()
    decoder.feed(b"".join(wire(hex_text) for hex_text, _ in SAMPLES))
    assert decode_all(decoder) == [pdu for _, pdu in SAMPLES]


def test_receipt_sample_tlvs_read_by_name() -> None:
    receipt = SAMPLES[4][1]
    assert isinstance(receipt, DeliverSm)
    assert tlv_text(receipt.tlvs, TlvTag.RECEIPTED_MESSAGE_ID) == "1A2B3C4D"
    assert tlv_int(receipt.tlvs, TlvTag.MESSAGE_STATE) == p.MessageState.DELIVERED
    assert receipt.tlvs == (
        text_tlv(TlvTag.RECEIPTED_MESSAGE_ID, "1A2B3C4D"),
        int_tlv(TlvTag.MESSAGE_STATE, 2, 1),
    )


# --------------------------------------------------------------------- leniency


def test_error_response_without_body() -> None:
    frame = struct.pack(">IIII", 16, CommandId.SUBMIT_SM_RESP, CommandStatus.ESME_RTHROTTLED, 9)
    assert decode_pdu(frame) == SubmitSmResp(
        sequence_number=9, command_status=CommandStatus.ESME_RTHROTTLED
    )


def test_error_bind_resp_with_body_is_accepted() -> None:
    # bind_transceiver_resp ESME_RINVPASWD with system_id "SMSC", as many SMSCs send it
    frame = bytes.fromhex("00000015800000090000000e00000001534d534300")
    assert decode_pdu(frame) == BindTransceiverResp(
        sequence_number=1, command_status=CommandStatus.ESME_RINVPASWD, system_id="SMSC"
    )


def test_error_submit_resp_with_a_lone_nul_is_accepted() -> None:
    frame = bytes.fromhex("00000011800000040000005800000009 00")
    assert decode_pdu(frame) == SubmitSmResp(
        sequence_number=9, command_status=CommandStatus.ESME_RTHROTTLED
    )


def test_error_response_with_a_garbled_body_is_accepted() -> None:
    # message_id without its NUL: unreadable, but the status says everything
    frame = bytes.fromhex("00000013800000040000001400000009 414243")
    assert decode_pdu(frame) == SubmitSmResp(
        sequence_number=9, command_status=CommandStatus.ESME_RMSGQFUL
    )


@pytest.mark.parametrize(
    ("pdu", "wire"),
    [
        (
            SubmitSmResp(
                sequence_number=2,
                command_status=CommandStatus.ESME_RTHROTTLED,
                message_id="ignored",
            ),
            "00000010800000040000005800000002",
        ),
        (
            BindTransceiverResp(
                sequence_number=1,
                command_status=CommandStatus.ESME_RINVPASWD,
                system_id="SMSC",
                tlvs=(int_tlv(TlvTag.SC_INTERFACE_VERSION, 0x34, 1),),
            ),
            "0000001080000009 0000000e00000001",
        ),
        (
            p.BindTransmitterResp(sequence_number=4, command_status=CommandStatus.ESME_RBINDFAIL),
            "00000010800000020000000d00000004",
        ),
        (
            DeliverSmResp(sequence_number=0x55, command_status=CommandStatus.ESME_RX_T_APPN),
            "00000010800000050000006400000055",
        ),
        (
            p.DataSmResp(sequence_number=3, command_status=CommandStatus.ESME_RDELIVERYFAILURE),
            "00000010800001030000 00fe00000003",
        ),
        (
            p.QuerySmResp(
                sequence_number=5, command_status=CommandStatus.ESME_RQUERYFAIL, message_id="1"
            ),
            "00000010800000030000006700000005",
        ),
        (
            p.SubmitMultiResp(sequence_number=6, command_status=CommandStatus.ESME_RSUBMITFAIL),
            "00000010800000210000004500000006",
        ),
    ],
    ids=[
        "submit_sm_resp",
        "bind_transceiver_resp",
        "bind_transmitter_resp",
        "deliver_sm_resp",
        "data_sm_resp",
        "query_sm_resp",
        "submit_multi_resp",
    ],
)
def test_error_responses_are_sent_without_a_body(pdu: Pdu, wire: str) -> None:
    """SMPP 3.4 §4.1 / §4.4: no body when command_status is not 0."""
    assert encode(pdu) == bytes.fromhex(wire)
    assert decode_pdu(encode(pdu)) == type(pdu)(
        sequence_number=pdu.sequence_number, command_status=pdu.command_status
    )


def test_successful_responses_keep_their_body() -> None:
    ok = SubmitSmResp(sequence_number=2, message_id="1A2B3C4D")
    assert encode(ok) == bytes.fromhex("00000019800000040000000000000002314132423343344400")
    assert encode(DeliverSmResp(sequence_number=0x55)) == bytes.fromhex(
        "000000118000000500000000000000 5500"
    )


def test_unknown_tlv_tags_are_kept() -> None:
    unknown = Tlv(0x1401, b"\x01\x02\x03")
    submit = SubmitSm(destination_addr="8613800138000", tlvs=(unknown, Tlv(0x0005, b"")))
    assert decode_pdu(encode(submit)).tlvs == (unknown, Tlv(0x0005, b""))  # type: ignore[union-attr]


# ------------------------------------------------------------------ remote faults


def frame(command_id: int, body: bytes, sequence: int = 5, length: int | None = None) -> bytes:
    size = 16 + len(body) if length is None else length
    return struct.pack(">IIII", size, command_id, 0, sequence) + body


@pytest.mark.parametrize(
    ("data", "status", "sequence"),
    [
        (frame(0x00000099, b""), CommandStatus.ESME_RINVCMDID, 5),
        (frame(CommandId.ENQUIRE_LINK, b"\x00"), CommandStatus.ESME_RINVCMDLEN, 5),
        (frame(CommandId.SUBMIT_SM_RESP, b"123"), CommandStatus.ESME_RINVCMDLEN, 5),
        (frame(CommandId.BIND_TRANSMITTER, b"abc\x00pw\x00"), CommandStatus.ESME_RINVCMDLEN, 5),
        (frame(CommandId.SUBMIT_SM_RESP, b"1\x00\x00\x1e"), CommandStatus.ESME_RINVOPTPARSTREAM, 5),
        (
            frame(CommandId.SUBMIT_SM_RESP, b"1\x00\x00\x1e\x00\x09ab"),
            CommandStatus.ESME_RINVOPTPARSTREAM,
            5,
        ),
        (frame(CommandId.ENQUIRE_LINK, b"", length=12), CommandStatus.ESME_RINVCMDLEN, None),
        (frame(CommandId.ENQUIRE_LINK, b"", length=1 << 30), CommandStatus.ESME_RINVCMDLEN, None),
    ],
    ids=[
        "unknown-command",
        "header-only-with-body",
        "c-string-without-nul",
        "truncated-bind",
        "truncated-tlv-header",
        "tlv-overrun",
        "length-below-header",
        "length-above-cap",
    ],
)
def test_malformed_frames(data: bytes, status: int, sequence: int | None) -> None:
    decoder = Decoder()
    decoder.feed(data)
    with pytest.raises(FrameError) as raised:
        decode_all(decoder)
    assert raised.value.status == status
    assert raised.value.sequence == sequence
    assert raised.value.close


def test_submit_multi_bad_dest_flag() -> None:
    body = b"\x00\x00\x00\x00" + b"\x01\x07"
    with pytest.raises(FrameError) as raised:
        decode_pdu(frame(CommandId.SUBMIT_MULTI, body))
    assert raised.value.status == CommandStatus.ESME_RINVDESTFLAG


# ------------------------------------------------------------------- local faults


@pytest.mark.parametrize(
    "pdu",
    [
        BindTransceiver(system_id="x" * 16),
        BindTransceiver(password="123456789"),
        SubmitSm(destination_addr="8613800138000\x00"),
        SubmitSm(source_addr="你好"),
        SubmitSm(short_message=b"x" * 255),
        SubmitSm(esm_class=256),
        SubmitSm(sequence_number=-1),
        SubmitSm(tlvs=(Tlv(0x10000, b""),)),
        SubmitSm(tlvs=(Tlv(0x0424, b"x" * 0x10000),)),
    ],
)
def test_encoding_invalid_values_is_a_local_error(pdu: Pdu) -> None:
    with pytest.raises(LocalProtocolError):
        encode(pdu)


def test_int_tlv_range_checked() -> None:
    with pytest.raises(LocalProtocolError):
        int_tlv(TlvTag.MESSAGE_STATE, 256, 1)


# ---------------------------------------------------------------- round trips

_INT_MAX = {"B": 0xFF, "H": 0xFFFF, "I": 0xFFFFFFFF}
_latin1_text = st.characters(min_codepoint=1, max_codepoint=0xFF)


def c_strings(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_latin1_text, max_size=max_size - 1)


_tlvs = st.lists(st.builds(Tlv, st.integers(0, 0xFFFF), st.binary(max_size=40)), max_size=4).map(
    tuple
)
_dests = st.lists(
    st.one_of(
        st.builds(
            p.SmeAddress,
            dest_addr_ton=st.integers(0, 0xFF),
            dest_addr_npi=st.integers(0, 0xFF),
            destination_addr=c_strings(p.ADDRESS_SIZE),
        ),
        st.builds(p.DistributionList, dl_name=c_strings(p.DL_NAME_SIZE)),
    ),
    max_size=4,
).map(tuple)
_unsuccess = st.lists(
    st.builds(
        p.UnsuccessSme,
        dest_addr_ton=st.integers(0, 0xFF),
        dest_addr_npi=st.integers(0, 0xFF),
        destination_addr=c_strings(p.ADDRESS_SIZE),
        error_status_code=st.integers(0, 0xFFFFFFFF),
    ),
    max_size=4,
).map(tuple)


def field_strategy(spec: Any) -> st.SearchStrategy[Any]:
    if isinstance(spec, Int):
        return st.integers(0, _INT_MAX[spec.code])
    if isinstance(spec, CString):
        return c_strings(spec.max_size)
    strategies: dict[Any, st.SearchStrategy[Any]] = {
        ShortMessage: st.binary(max_size=p.SHORT_MESSAGE_MAX),
        Tlvs: _tlvs,
        SubmitMultiDests: _dests,
        UnsuccessList: _unsuccess,
    }
    return strategies[spec]


def pdu_strategy(cls: type[Pdu]) -> st.SearchStrategy[Pdu]:
    """Every field of ``cls`` drawn from its wire type, header fields included."""
    fields = {name: field_strategy(spec) for name, spec in FIELDS[cls]}
    return st.builds(
        cls,
        sequence_number=st.integers(0, 0xFFFFFFFF),
        command_status=st.integers(0, 0xFFFFFFFF),
        **fields,
    )


def test_every_pdu_class_has_a_table() -> None:
    declared = {getattr(p, name) for name in p.__all__}
    pdu_classes = {cls for cls in declared if isinstance(cls, type) and hasattr(cls, "command_id")}
    assert pdu_classes == set(FIELDS)
    assert {cls.command_id for cls in FIELDS} == set(CommandId)
    for cls, table in FIELDS.items():
        names = {f.name for f in dataclasses.fields(cls)} - {"sequence_number", "command_status"}
        assert names == {name for name, _ in table}, cls


@pytest.mark.parametrize("cls", list(FIELDS), ids=lambda cls: cls.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(cls: type[Pdu], data: st.DataObject) -> None:
    pdu = data.draw(pdu_strategy(cls))
    encoded = encode(pdu)
    if cls.command_id & p.RESPONSE_BIT and pdu.command_status:
        # an error response goes without its body: only the header survives
        pdu = cls(sequence_number=pdu.sequence_number, command_status=pdu.command_status)
    assert decode_pdu(encoded) == pdu
    decoder = Decoder()
    decoder.feed(encoded + encoded[:5])
    assert decode_all(decoder) == [pdu]


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_protocol_errors(data: bytes) -> None:
    decoder = Decoder()
    decoder.feed(data)
    with contextlib.suppress(ProtocolError):
        decode_all(decoder)


@settings(max_examples=600, deadline=None)
@given(
    command_id=st.sampled_from([int(c) for c in CommandId]),
    status=st.integers(0, 0xFFFFFFFF),
    body=st.binary(max_size=200),
)
def test_valid_headers_with_arbitrary_bodies(command_id: int, status: int, body: bytes) -> None:
    data = struct.pack(">IIII", 16 + len(body), command_id, status, 1) + body
    try:
        decoded = decode_pdu(data)
    except ProtocolError:
        return
    assert decoded.command_id == command_id


def test_stopping_early_does_not_repeat_a_pdu() -> None:
    decoder = Decoder()
    decoder.feed(encode(EnquireLink(sequence_number=1)) + encode(EnquireLink(sequence_number=2)))
    for pdu in decoder.pdus():
        assert pdu.sequence_number == 1
        break
    assert decode_all(decoder) == [EnquireLink(sequence_number=2)]
