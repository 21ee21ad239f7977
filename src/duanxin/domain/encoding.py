"""Data codings shared by the carrier protocols (Msg_Fmt / MsgFormat / data_coding)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["DataCoding", "decode_text", "encode_text", "is_gsm_ascii"]


class DataCoding(IntEnum):
    """The coding byte: CMPP Msg_Fmt, SGIP MessageCoding, SMGP MsgFormat, SMPP data_coding."""

    ASCII = 0  # SMPP: the SMSC default alphabet
    LATIN1 = 3  # SMPP only; CMPP uses 3 for SIM writes, which we never send
    BINARY = 4
    UCS2 = 8
    GBK = 15


def is_gsm_ascii(text: str) -> bool:
    """True when ``text`` can go as 7-bit text: printable ASCII plus CR/LF."""
    return all(" " <= ch <= "~" or ch in "\r\n" for ch in text)


def encode_text(text: str, coding: DataCoding) -> bytes:
    """Encode ``text`` for the wire in ``coding``."""
    if coding is DataCoding.UCS2:
        return text.encode("utf-16-be")
    if coding is DataCoding.GBK:
        return text.encode("gb18030")
    if coding is DataCoding.BINARY:
        return text.encode("latin-1")
    return text.encode("latin-1" if coding is DataCoding.LATIN1 else "ascii")


def decode_text(data: bytes, coding: int) -> str:
    """Decode message bytes received in ``coding``; never raises on bad bytes."""
    if coding == DataCoding.UCS2:
        return data.decode("utf-16-be", errors="replace")
    if coding == DataCoding.GBK:
        return data.decode("gb18030", errors="replace")
    if coding == DataCoding.ASCII:
        try:
            return data.decode("ascii")
        except UnicodeDecodeError:
            # Some gateways send GBK with Msg_Fmt 0; that is the likeliest reading.
            return data.decode("gb18030", errors="replace")
    return data.decode("latin-1")
