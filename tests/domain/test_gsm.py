"""GSM 03.38 default alphabet, unpacked (one septet per octet), and the channel alphabets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duanxin.domain.encoding import (
    Alphabet,
    DataCoding,
    decode_text,
    default_alphabet_fits,
    encode_text,
)
from duanxin.domain.gsm import (
    BASIC,
    ESCAPE,
    EXTENSION,
    decode_gsm,
    encode_gsm,
    gsm_septets,
    is_gsm_text,
)

EVERY_BASIC = "".join(ch for code, ch in enumerate(BASIC) if code != ESCAPE)
EVERY_EXTENSION = "".join(EXTENSION.values())


def test_the_whole_basic_table_round_trips_one_septet_each() -> None:
    encoded = encode_gsm(EVERY_BASIC)
    assert encoded == bytes(code for code in range(0x80) if code != ESCAPE)
    assert decode_gsm(encoded) == EVERY_BASIC


def test_the_whole_extension_table_round_trips_behind_the_escape() -> None:
    encoded = encode_gsm(EVERY_EXTENSION)
    assert encoded == b"".join(bytes((ESCAPE, code)) for code in EXTENSION)
    assert decode_gsm(encoded) == EVERY_EXTENSION
    assert set(EVERY_EXTENSION) == set("^{}\\[~]|€\f")


def test_the_characters_ascii_gets_wrong() -> None:
    assert encode_gsm("@£_{}€") == bytes.fromhex("0001111b281b291b65")
    assert encode_gsm("$¥èΔ") == bytes.fromhex("02030410")
    assert decode_gsm(bytes.fromhex("00011102")) == "@£_$"
    assert gsm_septets("@£_{}€") == 9


def test_decoding_never_raises() -> None:
    assert decode_gsm(b"a\x1b\x41") == "aA"  # unknown extension: the basic character
    assert decode_gsm(b"ab\x1b") == "ab "  # a trailing escape shows as a space
    assert decode_gsm(b"\x1b\x1b") == " "
    assert decode_gsm(b"\x80\xffok") == "\ufffd\ufffdok"


def test_characters_outside_the_alphabet_are_refused() -> None:
    assert not is_gsm_text("`")  # the backtick has no GSM code
    assert not is_gsm_text("验证码")
    with pytest.raises(ValueError, match="'`'"):
        encode_gsm("a`b")


@given(st.text(alphabet=EVERY_BASIC + EVERY_EXTENSION, max_size=300))
def test_any_gsm_text_round_trips(text: str) -> None:
    assert decode_gsm(encode_gsm(text)) == text


@given(st.binary(max_size=300))
def test_any_bytes_decode(data: bytes) -> None:
    decode_gsm(data)


# ------------------------------------------------------------------ alphabets


def test_coding_0_follows_the_alphabet() -> None:
    text = "@£_{}€"
    assert decode_text(encode_text(text, DataCoding.ASCII, Alphabet.GSM7), 0, Alphabet.GSM7) == (
        text
    )
    assert encode_text("café", DataCoding.ASCII, Alphabet.LATIN1) == b"caf\xe9"
    assert decode_text(b"caf\xe9", 0, Alphabet.LATIN1) == "café"
    assert decode_text(b"\x00\x01", 0, Alphabet.GSM7) == "@£"


def test_the_default_alphabet_is_todays_ascii() -> None:
    assert decode_text(b"hello", 0) == "hello"
    assert decode_text("你好".encode("gbk"), 0) == "你好"  # GBK sent as coding 0
    assert encode_text("a_b", DataCoding.ASCII) == b"a_b"


def test_what_fits_coding_0() -> None:
    assert default_alphabet_fits("a{b}~", Alphabet.ASCII)
    assert not default_alphabet_fits("£", Alphabet.ASCII)
    assert default_alphabet_fits("£€{", Alphabet.GSM7)
    assert not default_alphabet_fits("`", Alphabet.GSM7)
    assert default_alphabet_fits("café £", Alphabet.LATIN1)
    assert not default_alphabet_fits("€", Alphabet.LATIN1)
    assert not default_alphabet_fits("\x85", Alphabet.LATIN1)  # C1 control
    for alphabet in Alphabet:
        assert not default_alphabet_fits("验证码", alphabet)
