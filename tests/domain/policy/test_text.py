"""Normalisation for matching: width, case, blanks, zero-width characters, separators."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duanxin.domain.policy.text import SEPARATORS, normalize


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ＦＡＰＩＡＯ", "fapiao"),  # full-width letters
        ("FaPiAo", "fapiao"),  # mixed case
        ("１２３", "123"),  # full-width digits
        ("①②", "12"),  # compatibility forms
        ("Straße", "strasse"),  # casefold, not lower
        ("发 票", "发票"),
        ("发\u3000票", "发票"),  # ideographic space
        ("发\u00a0票\t\n", "发票"),
        ("发\u200b票\u200d", "发票"),  # zero-width space / joiner
        ("\ufeff发\u2060票\u00ad", "发票"),  # BOM, word joiner, soft hyphen
        ("发*票-发_票.发|票/发\\票~", "发票发票发票发票"),
        ("发＊票－发＿票．发｜票／", "发票发票发票"),  # full-width separators
        ("发·票•发、票，发。票", "发票发票发票"),
        ("发—票–", "发票"),
        ("【公司】", "【公司】"),  # brackets are kept
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_separators_include_the_ones_spammers_use() -> None:
    for separator in " *-_.|/":
        assert normalize(f"a{separator}b") == "ab"
    assert all(normalize(c) == "" for c in SEPARATORS)


@given(st.text())
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert not any(c.isspace() for c in once)
