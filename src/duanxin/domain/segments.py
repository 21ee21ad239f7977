"""Long messages: one segmenter and one reassembler for every protocol.

Capacity follows GSM 03.40 as the billing rule states it: text that fits the 7-bit
alphabet (printable ASCII here) holds 160 characters in one message and 153 per segment of
a long one; anything else goes as UCS-2: 70 UTF-16 units, 67 per segment. Segments carry a
6-byte concatenation header ``05 00 03 ref total seq``; a UTF-16 surrogate pair is never cut.

What goes on the wire may also depend on the carrier's default alphabet (an SMPP channel
setting): on a GSM 03.38 carrier, text in that alphabet (``£``, ``€``, ``{`` ...) goes as
coding 0 counted in septets (an extension character takes two, and an escape pair is never
cut); billing (:func:`count_segments`) keeps the rule above.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from duanxin.domain.encoding import (
    Alphabet,
    DataCoding,
    default_alphabet_fits,
    encode_text,
    is_gsm_ascii,
)
from duanxin.domain.gsm import gsm_septets, septets_of

__all__ = [
    "ConcatInfo",
    "Reassembler",
    "Segment",
    "count_segments",
    "parse_udh",
    "split_message",
]

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67  # in UTF-16 code units

_UDH_LENGTH_8BIT = 0x05
_IEI_CONCAT_8BIT = 0x00
_IEI_CONCAT_16BIT = 0x08
_IE_LENGTH_8BIT = 0x03
_IE_LENGTH_16BIT = 0x04
_BMP_LAST = "\uffff"


class ConcatInfo(NamedTuple):
    """Where a segment sits in its message."""

    reference: int
    total: int
    number: int  # 1-based


@dataclass(frozen=True, slots=True)
class Segment:
    """One SMS on the wire: its user data (UDH included) and where it sits."""

    coding: DataCoding
    user_data: bytes  # UDH + text bytes, exactly what goes in Msg_Content / short_message
    has_udh: bool
    number: int
    total: int


def _utf16_units(text: str) -> int:
    if not text or max(text) <= _BMP_LAST:  # no surrogate pairs: one unit a character
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def count_segments(text: str) -> int:
    """How many SMS ``text`` takes; the billing unit."""
    if is_gsm_ascii(text):
        length, single, part = len(text), GSM_SINGLE, GSM_PART
    else:
        length, single, part = _utf16_units(text), UCS2_SINGLE, UCS2_PART
    if length <= single:
        return 1
    return -(-length // part)


def _one(ch: str) -> int:
    return 1


def _utf16_width(ch: str) -> int:
    return 2 if ord(ch) > 0xFFFF else 1


def _chunks(text: str, limit: int, width_of: Callable[[str], int]) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for ch in text:
        width = width_of(ch)
        if size + width > limit:
            chunks.append("".join(current))
            current, size = [], 0
        current.append(ch)
        size += width
    chunks.append("".join(current))
    return chunks


def split_message(text: str, reference: int, alphabet: Alphabet = Alphabet.ASCII) -> list[Segment]:
    """Cut ``text`` into the segments to submit; ``reference`` is taken modulo 256.

    ``alphabet`` is the carrier's default alphabet: text that fits it goes as coding 0,
    anything else as UCS-2.
    """
    width_of: Callable[[str], int]
    if not default_alphabet_fits(text, alphabet):
        coding, single, part, width_of = DataCoding.UCS2, UCS2_SINGLE, UCS2_PART, _utf16_width
        length = _utf16_units(text)
    elif alphabet is Alphabet.GSM7:
        coding, single, part, width_of = DataCoding.ASCII, GSM_SINGLE, GSM_PART, septets_of
        length = gsm_septets(text)
    else:
        coding, single, part, width_of = DataCoding.ASCII, GSM_SINGLE, GSM_PART, _one
        length = len(text)
    if length <= single:
        return [Segment(coding, encode_text(text, coding, alphabet), False, 1, 1)]
    parts = _chunks(text, part, width_of)
    total = len(parts)
    ref = reference & 0xFF
    return [
        Segment(
            coding,
            bytes((_UDH_LENGTH_8BIT, _IEI_CONCAT_8BIT, _IE_LENGTH_8BIT, ref, total, number))
            + encode_text(chunk, coding, alphabet),
            True,
            number,
            total,
        )
        for number, chunk in enumerate(parts, start=1)
    ]


def parse_udh(user_data: bytes) -> tuple[ConcatInfo | None, bytes]:
    """Split user data that starts with a UDH into (concatenation info, text bytes)."""
    if not user_data:
        return None, user_data
    udh_length = user_data[0]
    if udh_length + 1 > len(user_data):
        return None, user_data
    header, body = user_data[1 : udh_length + 1], user_data[udh_length + 1 :]
    info: ConcatInfo | None = None
    offset = 0
    while offset + 2 <= len(header):
        iei, length = header[offset], header[offset + 1]
        value = header[offset + 2 : offset + 2 + length]
        if iei == _IEI_CONCAT_8BIT and length == _IE_LENGTH_8BIT and len(value) == length:
            info = ConcatInfo(value[0], value[1], value[2])
        elif iei == _IEI_CONCAT_16BIT and length == _IE_LENGTH_16BIT and len(value) == length:
            info = ConcatInfo((value[0] << 8) | value[1], value[2], value[3])
        offset += 2 + length
    return info, body


@dataclass(slots=True)
class _Pending:
    total: int
    started: float
    parts: dict[int, str] = field(default_factory=dict)


@dataclass(slots=True)
class Reassembler:
    """Collects the segments of long messages until each is complete or times out.

    ``key`` identifies the conversation (e.g. sender and recipient); the concatenation
    reference and total are added to it. Repeated segments are ignored.
    """

    timeout: float = 180.0
    _pending: dict[tuple[object, int, int], _Pending] = field(default_factory=dict)

    def add(self, key: object, info: ConcatInfo, text: str, now: float) -> str | None:
        """Add one segment; return the whole text once every segment has arrived."""
        if info.total <= 1:
            return text
        slot = (key, info.reference, info.total)
        pending = self._pending.get(slot)
        if pending is None:
            pending = self._pending[slot] = _Pending(info.total, now)
        pending.parts.setdefault(info.number, text)
        if len(pending.parts) < pending.total:
            return None
        del self._pending[slot]
        return "".join(pending.parts[n] for n in sorted(pending.parts))

    def expire(self, now: float) -> list[tuple[object, str]]:
        """Give up on messages older than the timeout: return what arrived, in order."""
        expired: list[tuple[object, str]] = []
        for slot, pending in list(self._pending.items()):
            if now - pending.started >= self.timeout:
                del self._pending[slot]
                text = "".join(pending.parts[n] for n in sorted(pending.parts))
                expired.append((slot[0], text))
        return expired

    def next_expiry(self) -> float | None:
        if not self._pending:
            return None
        return min(p.started for p in self._pending.values()) + self.timeout
