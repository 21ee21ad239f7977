"""Data codings shared by the carrier protocols (Msg_Fmt / MsgFormat / data_coding).

Coding 0 is ASCII in CMPP, SGIP and SMGP. In SMPP it is "the SMSC default alphabet", which
differs per carrier (notes §6.5: often GSM 03.38, sometimes Latin-1): the channel's
:class:`Alphabet` says which, for the text sent and the text received alike.
"""

from __future__ import annotations

import re
from enum import IntEnum, StrEnum

from duanxin.domain.gsm import decode_gsm, encode_gsm, is_gsm_text

__all__ = [
    "Alphabet",
    "DataCoding",
    "decode_text",
    "default_alphabet_fits",
    "encode_text",
    "is_gsm_ascii",
]


class DataCoding(IntEnum):
    """The coding byte: CMPP Msg_Fmt, SGIP MessageCoding, SMGP MsgFormat, SMPP data_coding."""

    ASCII = 0  # SMPP: the SMSC default alphabet (see Alphabet)
    LATIN1 = 3  # SMPP only; CMPP uses 3 for SIM writes, which we never send
    BINARY = 4
    UCS2 = 8
    GBK = 15


class Alphabet(StrEnum):
    """What a carrier takes coding 0 to be (the channel setting ``alphabet``)."""

    ASCII = "ascii"  # printable ASCII; received bytes that are not ASCII are read as GBK
    GSM7 = "gsm7"  # GSM 03.38, one septet per octet, with the extension table
    LATIN1 = "latin1"  # ISO-8859-1


_LATIN1_UPPER = "\xa0"  # printable Latin-1 above ASCII starts here (0x80-0x9F are controls)


_GSM_ASCII = re.compile("[ -~\r\n]*")


def is_gsm_ascii(text: str) -> bool:
    """True when ``text`` can go as 7-bit text: printable ASCII plus CR/LF."""
    return _GSM_ASCII.fullmatch(text) is not None


def _is_latin1_text(text: str) -> bool:
    return all(" " <= ch <= "~" or _LATIN1_UPPER <= ch <= "\xff" or ch in "\r\n" for ch in text)


def default_alphabet_fits(text: str, alphabet: Alphabet) -> bool:
    """True when ``text`` can go with coding 0 on a carrier whose default is ``alphabet``."""
    if alphabet is Alphabet.GSM7:
        return is_gsm_text(text)
    if alphabet is Alphabet.LATIN1:
        return _is_latin1_text(text)
    return is_gsm_ascii(text)


def encode_text(text: str, coding: DataCoding, alphabet: Alphabet = Alphabet.ASCII) -> bytes:
    """Encode ``text`` for the wire in ``coding`` (coding 0 in the carrier's ``alphabet``)."""
    if coding is DataCoding.UCS2:
        return text.encode("utf-16-be")
    if coding is DataCoding.GBK:
        return text.encode("gb18030")
    if coding is DataCoding.BINARY or coding is DataCoding.LATIN1:
        return text.encode("latin-1")
    if alphabet is Alphabet.GSM7:
        return encode_gsm(text)
    return text.encode("latin-1" if alphabet is Alphabet.LATIN1 else "ascii")


def decode_text(data: bytes, coding: int, alphabet: Alphabet = Alphabet.ASCII) -> str:
    """Decode message bytes received in ``coding``; never raises on bad bytes."""
    if coding == DataCoding.UCS2:
        return data.decode("utf-16-be", errors="replace")
    if coding == DataCoding.GBK:
        return data.decode("gb18030", errors="replace")
    if coding == DataCoding.ASCII:
        return _decode_default(data, alphabet)
    return data.decode("latin-1")


def _decode_default(data: bytes, alphabet: Alphabet) -> str:
    if alphabet is Alphabet.GSM7:
        return decode_gsm(data)
    if alphabet is Alphabet.LATIN1:
        return data.decode("latin-1")
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        # Some gateways send GBK with Msg_Fmt 0; that is the likeliest reading.
        return data.decode("gb18030", errors="replace")
