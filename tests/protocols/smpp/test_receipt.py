"""Delivery-receipt text: the notes' sample, tolerance, and round trips."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from duanxin.protocols.smpp import DeliveryReceipt, MessageState, format_receipt, parse_receipt
from duanxin.protocols.smpp.receipt import parse_receipt_time, state_for_stat

SAMPLE = (
    "id:1A2B3C4D sub:001 dlvrd:001 submit date:2511281430 done date:2511281431"
    " stat:DELIVRD err:000 text:"
)
SAMPLE_RECEIPT = DeliveryReceipt(
    message_id="1A2B3C4D",
    sub=1,
    dlvrd=1,
    submit_date="2511281430",
    done_date="2511281431",
    stat="DELIVRD",
    err="000",
    text="",
)


def test_parse_notes_sample() -> None:
    assert parse_receipt(SAMPLE) == SAMPLE_RECEIPT


def test_format_notes_sample() -> None:
    assert format_receipt(SAMPLE_RECEIPT) == SAMPLE


def test_spec_capitalisation_and_seconds() -> None:
    text = (
        "id:0123456789 sub:001 dlvrd:000 submit date:251128143001 done date:251128143502"
        " stat:UNDELIV err:034 Text:hello there"
    )
    receipt = parse_receipt(text)
    assert receipt is not None
    assert receipt.message_id == "0123456789"
    assert receipt.stat == "UNDELIV"
    assert receipt.err == "034"
    assert receipt.text == "hello there"
    assert parse_receipt_time(receipt.done_date) == datetime(2025, 11, 28, 14, 35, 2)


def test_missing_fields_keep_defaults() -> None:
    receipt = parse_receipt("id:abc-123 stat:EXPIRED")
    assert receipt == DeliveryReceipt(message_id="abc-123", stat="EXPIRED")


def test_no_id_is_not_a_receipt() -> None:
    assert parse_receipt("hello, this is an ordinary MO message") is None


def test_text_is_cut_to_twenty_characters() -> None:
    receipt = DeliveryReceipt(message_id="1", text="x" * 30)
    assert format_receipt(receipt).endswith("text:" + "x" * 20)


def test_receipt_times() -> None:
    assert parse_receipt_time("2511281430") == datetime(2025, 11, 28, 14, 30)
    assert parse_receipt_time("25112814") is None
    assert parse_receipt_time("2599281430") is None


def test_stat_to_state() -> None:
    assert state_for_stat("DELIVRD") is MessageState.DELIVERED
    assert state_for_stat("expired") is MessageState.EXPIRED
    assert state_for_stat("MA:0001") is MessageState.UNDELIVERABLE


_token = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)
_digits = st.text(st.sampled_from("0123456789"), min_size=10, max_size=12)


@given(
    st.builds(
        DeliveryReceipt,
        message_id=_token,
        sub=st.integers(0, 999),
        dlvrd=st.integers(0, 999),
        submit_date=_digits,
        done_date=_digits,
        stat=st.text(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ:0123456789"), min_size=1),
        err=st.text(st.sampled_from("0123456789ABCDEF"), min_size=1, max_size=3),
        text=st.text(max_size=20),
    )
)
def test_format_then_parse(receipt: DeliveryReceipt) -> None:
    assert parse_receipt(format_receipt(receipt)) == receipt


def test_only_message_type_4_is_a_receipt_and_only_0_a_reply() -> None:
    from duanxin.protocols.smpp.pdu import EsmFeature, EsmMessageType
    from duanxin.protocols.smpp.receipt import DeliverKind, deliver_kind

    expected = {
        EsmMessageType.DEFAULT: DeliverKind.MESSAGE,
        EsmMessageType.DELIVERY_RECEIPT: DeliverKind.RECEIPT,
        EsmMessageType.DELIVERY_ACK: DeliverKind.OTHER,
        EsmMessageType.MANUAL_ACK: DeliverKind.OTHER,
        EsmMessageType.CONVERSATION_ABORT: DeliverKind.OTHER,
        EsmMessageType.INTERMEDIATE_NOTIFICATION: DeliverKind.OTHER,
    }
    for message_type, kind in expected.items():
        for features in (0, EsmFeature.UDHI, EsmFeature.REPLY_PATH, 0xC0):
            for mode in range(4):  # messaging-mode bits are ignored in deliver_sm
                assert deliver_kind(message_type | features | mode) is kind
    assert deliver_kind(0x0C) is DeliverKind.OTHER  # reserved: neither
    assert deliver_kind(0x3C) is DeliverKind.OTHER


def test_finality_from_message_state_else_from_the_text() -> None:
    from duanxin.protocols.smpp.receipt import is_final_receipt

    assert not is_final_receipt(MessageState.ENROUTE, "DELIVRD")  # the TLV decides
    assert is_final_receipt(MessageState.DELIVERED, "ENROUTE")
    assert is_final_receipt(MessageState.ACCEPTED, "ACCEPTD")
    for state in set(MessageState) - {MessageState.ENROUTE}:
        assert is_final_receipt(state, "")
    assert not is_final_receipt(None, "ENROUTE")
    assert not is_final_receipt(None, "enroute")
    assert not is_final_receipt(99, "ENROUTE")  # an unknown state: the text decides
    assert is_final_receipt(None, "DELIVRD")
    assert is_final_receipt(None, "MA:0001")
    assert is_final_receipt(None, "")
