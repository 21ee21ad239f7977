"""Imported list files: every bad line is named by its number, a CSV's first column is the
entry, a header is skipped, and no number is dropped unseen."""

from __future__ import annotations

import pytest

from duanxin.domain.policy import PolicyError
from duanxin.domain.policy.files import (
    MAX_BAD_LINES,
    BadLine,
    ListFileError,
    parse_number_file,
    parse_word_lines,
)
from duanxin.domain.policy.words import WordEntry


def test_numbers_one_a_line_or_a_csvs_first_column() -> None:
    text = '\ufeffmobile;note\r\n13800138000;a\r\n\r\n# skipped\r\n"+8613900139000",b\r\n'
    parsed = parse_number_file(text)
    assert parsed.numbers == ["13800138000", "13900139000"] and parsed.bad == []


def test_bad_number_lines_are_named_and_counted() -> None:
    text = "13800138000\nabc\n13800138000,13900139000\n123\n"
    parsed = parse_number_file(text)
    assert parsed.numbers == ["13800138000"]
    assert [(b.line, b.text) for b in parsed.bad] == [
        (2, "abc"),
        (3, "13800138000,13900139000"),
        (4, "123"),
    ]
    assert "one number per line" in parsed.bad[1].reason and parsed.bad_count == 3


def test_a_header_is_only_the_first_line() -> None:
    parsed = parse_number_file("13800138000\nmobile\n")
    assert parsed.bad == [BadLine(2, "mobile", "not a mainland mobile number")]


def test_a_long_report_keeps_the_first_lines_and_the_count() -> None:
    parsed = parse_number_file("13800138000\n" + "x1\n" * (MAX_BAD_LINES + 5))
    assert len(parsed.bad) == MAX_BAD_LINES and parsed.bad_count == MAX_BAD_LINES + 5
    assert parsed.bad[0].line == 2


def test_word_files_are_all_or_nothing_naming_every_bad_line() -> None:
    with pytest.raises(ListFileError) as raised:
        parse_word_lines("ok\n* *\nfine\tcat\n" + "x" * 70 + "\n")
    assert [b.line for b in raised.value.bad] == [2, 4] and raised.value.count == 2
    assert isinstance(raised.value, PolicyError) and str(raised.value).startswith("line 2: ")


def test_word_csv() -> None:
    assert parse_word_lines('"发票",fraud\n赌博\n', "misc", csv=True) == [
        WordEntry("发票", "fraud"),
        WordEntry("赌博", "misc"),
    ]
    # Without csv, a comma belongs to the word.
    assert parse_word_lines("a,b\n") == [WordEntry("a,b", "default")]
