"""The one segmenter and reassembler every protocol uses."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from duanxin.domain.encoding import DataCoding, decode_text
from duanxin.domain.segments import (
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
