"""The limits of a send every front door applies: numbers, de-duplication, extno, 86."""

from __future__ import annotations

import pytest

from duanxin.domain.numbers import (
    MAX_NUMBERS,
    MobileEntry,
    TooManyNumbers,
    distinct_mobiles,
    national_mobile,
    normalise_mobile,
    valid_extno,
    with_country_code,
)
from duanxin.domain.status import DxStat, NumberResult, Status


def test_the_same_number_spelled_with_86_counts_once_in_request_order() -> None:
    entries = distinct_mobiles([" 13900139000", "+8613800138000", "13800138000", "8613900139000"])
    assert entries == [
        MobileEntry("13900139000", "13900139000"),
        MobileEntry("+8613800138000", "13800138000"),
    ]


def test_invalid_entries_are_kept_once_each_and_blanks_skipped() -> None:
    entries = distinct_mobiles(["12345", "", "  ", "12345", "abc"])
    assert entries == [MobileEntry("12345", None), MobileEntry("abc", None)]


def test_at_most_500_distinct_numbers_and_repeats_do_not_count() -> None:
    numbers = [f"138{n:08d}" for n in range(MAX_NUMBERS)]
    assert len(distinct_mobiles(numbers + numbers)) == MAX_NUMBERS == 500
    with pytest.raises(TooManyNumbers, match="at most 500"):
        distinct_mobiles([*numbers, "13900139000"])


def test_normalising_strips_each_spelling_of_the_country_code() -> None:
    for spelling in ("13800138000", "8613800138000", "+8613800138000", "008613800138000"):
        assert normalise_mobile(spelling) == "13800138000"
    assert normalise_mobile("+8513800138000") is None
    assert normalise_mobile("86138001380001") is None


def test_a_mobile_is_read_and_written_with_or_without_86_and_anything_else_kept() -> None:
    for spelling in ("13800138000", "8613800138000", "+8613800138000", "008613800138000"):
        assert national_mobile(spelling) == "13800138000"  # a reply's sender, as sent to
        assert with_country_code(spelling) == "8613800138000"  # a carrier link's form
    # An access code or a fixed line that happens to start with 86 is not cut down.
    for other in ("10690123", "861065501234501", "8610690123"):
        assert national_mobile(other) == other
    assert with_country_code("1065501234501") == "1065501234501"  # an SP number: as it is
    assert with_country_code("+4479460000") == "4479460000"


def test_extno_is_one_to_twelve_ascii_digits() -> None:
    assert valid_extno("1") and valid_extno("123456789012")
    assert not valid_extno("1234567890123")
    assert not valid_extno("12a")
    assert not valid_extno("１２")  # full-width digits
    assert not valid_extno("")


def test_each_refused_number_result_has_its_report_stat() -> None:
    assert DxStat.for_result(NumberResult.INVALID) == "DX:0001"
    assert DxStat.for_result(NumberResult.REFUSED) == "DX:0005"
    assert DxStat.for_result(NumberResult.NO_CHANNEL) == "DX:0100"
    assert Status.TOO_MANY_NUMBERS.default_message == "too many numbers: at most 500 per request"
