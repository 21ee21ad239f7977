"""The one segmenter and reassembler every protocol uses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from duanxin.domain.encoding import DataCoding, decode_text
from duanxin.domain.segments import (
    GSM_PART,
    GSM_SINGLE,
    UCS2_PART,
    UCS2_SINGLE,
    ConcatInfo,
    Reassembler,
    count_segments,
    parse_udh,
    split_message,
)


def test_limits_follow_the_billing_rule() -> None:
    assert count_segments("a" * 160) == 1
    assert count_segments("a" * 161) == 2
    assert count_segments("a" * 306) == 2
    assert count_segments("a" * 307) == 3
    assert count_segments("验" * 70) == 1
    assert count_segments("验" * 71) == 2
    assert count_segments("验" * 134) == 2
    assert count_segments("验" * 135) == 3


def test_emoji_take_two_ucs2_units_and_are_never_cut() -> None:
    text = "😀" * 40  # 80 UTF-16 units
    segments = split_message(text, reference=7)
    assert len(segments) == 2
    for segment in segments:
        info, body = parse_udh(segment.user_data)
        assert info is not None and info.reference == 7
        body.decode("utf-16-be")  # would raise on a cut surrogate pair


def test_long_message_carries_a_concatenation_header() -> None:
    segments = split_message("验证码" * 30, reference=0x1FF)
    assert [s.number for s in segments] == [1, 2]
    assert segments[0].user_data[:6] == bytes([5, 0, 3, 0xFF, 2, 1])
    assert all(s.coding is DataCoding.UCS2 and s.has_udh for s in segments)


def test_short_ascii_goes_without_header() -> None:
    (segment,) = split_message("hello", reference=1)
    assert segment.user_data == b"hello" and not segment.has_udh
    assert segment.coding is DataCoding.ASCII


def test_sixteen_bit_reference_is_read() -> None:
    info, body = parse_udh(bytes([6, 8, 4, 0x12, 0x34, 3, 2]) + b"xy")
    assert info == ConcatInfo(0x1234, 3, 2) and body == b"xy"


@given(st.text(min_size=1, max_size=400))
def test_split_then_reassemble_gives_the_text_back(text: str) -> None:
    segments = split_message(text, reference=3)
    assert len(segments) == count_segments(text)
    reassembler = Reassembler()
    whole = None
    for segment in reversed(segments):  # out of order on purpose
        info, body = parse_udh(segment.user_data) if segment.has_udh else (None, segment.user_data)
        part = decode_text(body, segment.coding)
        whole = reassembler.add("k", info or ConcatInfo(0, 1, 1), part, now=0)
    assert whole == text


def test_duplicates_are_ignored_and_incomplete_sets_expire_in_order() -> None:
    reassembler = Reassembler(timeout=180)
    assert reassembler.add("k", ConcatInfo(1, 3, 3), "C", now=0) is None
    assert reassembler.add("k", ConcatInfo(1, 3, 1), "A", now=1) is None
    assert reassembler.add("k", ConcatInfo(1, 3, 1), "A", now=2) is None
    assert reassembler.expire(now=100) == []
    assert reassembler.expire(now=180) == [("k", "AC")]


@given(st.binary(max_size=300))
def test_udh_parser_never_raises(data: bytes) -> None:
    parse_udh(data)


def test_gsm_carrier_gets_gsm_text_as_coding_0_counted_in_septets() -> None:
    from duanxin.domain.encoding import Alphabet
    from duanxin.domain.gsm import decode_gsm

    (segment,) = split_message("@£_{}€", reference=1, alphabet=Alphabet.GSM7)
    assert segment.coding is DataCoding.ASCII
    assert segment.user_data == bytes.fromhex("0001111b281b291b65")
    assert len(split_message("{" * 80, 1, Alphabet.GSM7)) == 1  # 160 septets
    assert len(split_message("{" * 81, 1, Alphabet.GSM7)) == 2
    # 152 plain septets then an escape pair: the pair moves whole to the next segment
    first, second = split_message("a" * 152 + "€" + "b" * 10, 9, Alphabet.GSM7)
    _, body = parse_udh(first.user_data)
    assert decode_gsm(body) == "a" * 152
    _, body = parse_udh(second.user_data)
    assert decode_gsm(body) == "€" + "b" * 10
    assert first.user_data[:6] == bytes([5, 0, 3, 9, 2, 1])


def test_text_outside_the_carrier_alphabet_goes_as_ucs2() -> None:
    from duanxin.domain.encoding import Alphabet

    (segment,) = split_message("price `5`", 1, Alphabet.GSM7)
    assert segment.coding is DataCoding.UCS2
    (segment,) = split_message("£5", 1, Alphabet.ASCII)
    assert segment.coding is DataCoding.UCS2
    (segment,) = split_message("£5", 1, Alphabet.LATIN1)
    assert (segment.coding, segment.user_data) == (DataCoding.ASCII, b"\xa35")


@given(
    st.text(min_size=1, max_size=400),
    st.sampled_from(["ascii", "gsm7", "latin1"]),
)
def test_split_then_reassemble_in_any_alphabet(text: str, name: str) -> None:
    from duanxin.domain.encoding import Alphabet

    alphabet = Alphabet(name)
    segments = split_message(text, 3, alphabet)
    reassembler = Reassembler()
    whole = None
    single = len(segments) == 1
    for segment in segments:
        info, body = parse_udh(segment.user_data) if segment.has_udh else (None, segment.user_data)
        if segment.coding is DataCoding.ASCII:  # one octet per character or septet
            assert len(body) <= (GSM_SINGLE if single else GSM_PART)
        else:
            assert len(body) <= 2 * (UCS2_SINGLE if single else UCS2_PART)
        part = decode_text(body, segment.coding, alphabet)
        whole = reassembler.add("k", info or ConcatInfo(0, 1, 1), part, now=0)
    assert whole == text
