"""Mainland mobile numbers: normalisation, carrier detection, overrides, and speed-cache pinning."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import PhoneNumberType, carrier

from duanxin.domain.numbers import (
    FALLBACK_PREFIXES,
    SEGMENT_DIGITS,
    Carrier,
    detect_carrier,
    normalise_mobile,
)

M, U, T, B = Carrier.MOBILE, Carrier.UNICOM, Carrier.TELECOM, Carrier.BROADNET


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("13800138000", M),
        ("15012345678", M),
        ("18812345678", M),
        ("19812345678", M),
        ("13012345678", U),
        ("18612345678", U),
        ("15512345678", U),
        ("19612345678", U),
        ("13312345678", T),
        ("18912345678", T),
        ("19912345678", T),
        ("17712345678", T),
        ("19212345678", B),
        # virtual operators, mapped to the host network
        ("17001234567", T),
        ("17021234567", T),
        ("17031234567", M),
        ("17051234567", M),
        ("17061234567", M),
        ("17041234567", U),
        ("17091234567", U),
        ("17112345678", U),
        ("16212345678", T),
        ("16512345678", M),
        ("16712345678", U),
        # satellite segment phonenumbers leaves unnamed
        ("13491234567", T),
    ],
)
def test_carrier_of_each_segment(number: str, expected: Carrier) -> None:
    assert detect_carrier(number) is expected
    assert normalise_mobile(number) == number


def test_carrier_values_and_default_routing() -> None:
    assert [c.value for c in Carrier] == ["cmcc", "cucc", "ctcc", "cbn"]
    assert Carrier("cbn").routes_as() is Carrier.MOBILE
    for c in (M, U, T):
        assert c.routes_as() is c


@pytest.mark.parametrize(
    "raw", ["13800138000", "+8613800138000", "8613800138000", "008613800138000", " 13800138000\n"]
)
def test_prefixes_are_stripped(raw: str) -> None:
    assert normalise_mobile(raw) == "13800138000"
    assert detect_carrier(raw) is M


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "1",
        "1380013800",  # 10 digits
        "138001380001",  # 12 digits
        "23800138000",  # does not start with 1
        "12345678901",  # no such segment
        "14012345678",  # IoT segment: 13-digit numbers, not an 11-digit mobile
        "17912345678",
        "1380013800a",
        "+86 13800138000",
        "+1 6502530000",
        "+8513800138000",
        "86138001380",
        "0086138001380001",
        "١٣٨٠٠١٣٨٠٠٠",  # Arabic-Indic digits
        "１３８００１３８０００",  # full-width digits
        "010-12345678",  # a landline
    ],
)
def test_invalid_numbers(raw: str) -> None:
    assert normalise_mobile(raw) is None
    assert detect_carrier(raw) is None


def test_overrides_win() -> None:
    moved = {"13800138000": Carrier.TELECOM, "18612345678": Carrier.MOBILE}
    assert detect_carrier("13800138000", moved) is T
    assert detect_carrier("+8613800138000", moved) is T  # keyed by the national form
    assert detect_carrier("18612345678", moved) is M
    assert detect_carrier("13800138001", moved) is M  # not listed: from the segment
    assert detect_carrier("abc", moved) is None


def test_override_covers_segment_unknown_to_the_data() -> None:
    assert detect_carrier("14012345678") is None
    assert detect_carrier("14012345678", {"14012345678": U}) is U


def test_fallback_table_only_names_carriers() -> None:
    assert all(p.startswith("1") and p.isdigit() for p in FALLBACK_PREFIXES)
    assert set(FALLBACK_PREFIXES.values()) <= set(Carrier)


# ---- pinning the per-segment cache against phonenumbers itself ------------------------

_NAMES = {"China Mobile": M, "China Unicom": U, "China Telecom": T, "China Broadnet": B}


def _reference(number: str) -> tuple[bool, Carrier | None]:
    """Straight phonenumbers on the whole number, no cache, no segment shortcut."""
    try:
        parsed = phonenumbers.parse(number, "CN")
    except phonenumbers.NumberParseException:
        return False, None
    if not phonenumbers.is_valid_number(parsed) or phonenumbers.number_type(parsed) not in (
        PhoneNumberType.MOBILE,
        PhoneNumberType.FIXED_LINE_OR_MOBILE,
    ):
        return False, None
    named = _NAMES.get(carrier.name_for_number(parsed, "en"))
    if named is not None:
        return True, named
    for length in range(len(number), 2, -1):
        if number[:length] in FALLBACK_PREFIXES:
            return True, FALLBACK_PREFIXES[number[:length]]
    return True, None


def _ours(number: str) -> tuple[bool, Carrier | None]:
    return normalise_mobile(number) is not None, detect_carrier(number)


def test_every_segment_agrees_with_phonenumbers() -> None:
    rnd = random.Random(20240601)
    tail = 11 - SEGMENT_DIGITS
    for segment in range(10**4):
        head = f"1{segment:04d}"
        for suffix in ("0" * tail, "9" * tail, f"{rnd.randrange(10**tail):0{tail}d}"):
            number = head + suffix
            assert _ours(number) == _reference(number), number


def test_every_valid_mainland_segment_has_a_carrier() -> None:
    missing = [
        f"1{s:04d}"
        for s in range(10**4)
        if normalise_mobile(f"1{s:04d}000000") and detect_carrier(f"1{s:04d}000000") is None
    ]
    assert missing == []


@given(st.from_regex(r"1[0-9]{10}", fullmatch=True))
def test_random_numbers_agree_with_phonenumbers(number: str) -> None:
    assert _ours(number) == _reference(number)


@given(st.text())
def test_random_text_never_raises(raw: str) -> None:
    normalised = normalise_mobile(raw)
    found = detect_carrier(raw, {"13800138000": T})
    if normalised is not None:
        assert len(normalised) == 11 and normalised.isdigit() and normalised[0] == "1"
    elif found is not None:
        assert found is T  # only the override can name a number the data rejects


@given(st.sampled_from(["", "+86", "86", "0086"]), st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_prefix_never_changes_the_answer(prefix: str, number: str) -> None:
    assert normalise_mobile(prefix + number) == normalise_mobile(number)
    assert detect_carrier(prefix + number) == detect_carrier(number)
