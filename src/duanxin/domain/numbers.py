"""Mainland mobile numbers: normalisation and carrier detection.

Base data is the ``phonenumbers`` library (validity of a CN mobile number, and the carrier
that holds each number segment). Virtual operators (MVNOs: 170/171, 162, 165, 167) ride
on one of the three networks, and their segments map to that host network, because that
is the network whose gateway delivers the message:

==========  ==========================  =========
segment     phonenumbers says           host
==========  ==========================  =========
1700-1702   China Telecom               TELECOM
1703/5/6    China Mobile                MOBILE
1704/7/8/9  China Unicom                UNICOM
171, 167    China Unicom                UNICOM
162         (unnamed)                   TELECOM
165         (unnamed)                   MOBILE
1349        (unnamed; satellite)        TELECOM
192, 1610   China Broadnet              BROADNET
==========  ==========================  =========

Segments phonenumbers leaves unnamed are taken from :data:`FALLBACK_PREFIXES`.
China Broadnet (中国广电, 192) shares China Mobile's radio network and its messages go
through China Mobile gateways unless the operator routes it separately: it has its own
:class:`Carrier` value so routes can tell it apart, and :meth:`Carrier.routes_as` gives
``MOBILE`` as the default.

Speed: in phonenumbers' CN data both the validity pattern and the carrier prefixes are
decided by the first :data:`SEGMENT_DIGITS` digits of an 11-digit number (a test pins this
against the library), so lookups are cached per segment (at most 10,000 entries) and a
number costs a few string operations and one dict look-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import phonenumbers
from phonenumbers import PhoneNumberType, carrier

__all__ = [
    "COUNTRY_CODE",
    "EXTNO_MAX_DIGITS",
    "FALLBACK_PREFIXES",
    "MAX_NUMBERS",
    "NATIONAL_DIGITS",
    "SEGMENT_DIGITS",
    "Carrier",
    "MobileEntry",
    "TooManyNumbers",
    "detect_carrier",
    "distinct_mobiles",
    "national_mobile",
    "normalise_mobile",
    "valid_extno",
    "with_country_code",
]


class Carrier(StrEnum):
    MOBILE = "cmcc"  # China Mobile 中国移动
    UNICOM = "cucc"  # China Unicom 中国联通
    TELECOM = "ctcc"  # China Telecom 中国电信
    BROADNET = "cbn"  # China Broadnet 中国广电 (192)

    def routes_as(self) -> Carrier:
        """The network whose channels carry this carrier's messages by default."""
        return Carrier.MOBILE if self is Carrier.BROADNET else self


SEGMENT_DIGITS: Final = 5
#: Digits of a mainland mobile number in its national form.
NATIONAL_DIGITS: Final = 11
#: The country code of mainland numbers, as written before the 11 digits (``86138...``).
COUNTRY_CODE: Final = "86"
# How the country code is written before a number: +86, 0086, 86 (tried in this order).
_COUNTRY_PREFIXES: Final = ("+" + COUNTRY_CODE, "00" + COUNTRY_CODE, COUNTRY_CODE)

_NAMES: Final[Mapping[str, Carrier]] = {
    "China Mobile": Carrier.MOBILE,
    "China Unicom": Carrier.UNICOM,
    "China Telecom": Carrier.TELECOM,
    "China Broadnet": Carrier.BROADNET,
}

# Host network of segments phonenumbers validates but does not name (longest prefix wins).
FALLBACK_PREFIXES: Final[Mapping[str, Carrier]] = MappingProxyType(
    {
        "162": Carrier.TELECOM,  # virtual operators on China Telecom
        "165": Carrier.MOBILE,  # virtual operators on China Mobile
        "167": Carrier.UNICOM,  # virtual operators on China Unicom
        "1700": Carrier.TELECOM,
        "1701": Carrier.TELECOM,
        "1702": Carrier.TELECOM,
        "1703": Carrier.MOBILE,
        "1705": Carrier.MOBILE,
        "1706": Carrier.MOBILE,
        "1704": Carrier.UNICOM,
        "1707": Carrier.UNICOM,
        "1708": Carrier.UNICOM,
        "1709": Carrier.UNICOM,
        "171": Carrier.UNICOM,
        "1349": Carrier.TELECOM,  # satellite, served by China Telecom
        "192": Carrier.BROADNET,
    }
)

_NO_OVERRIDES: Final[Mapping[str, Carrier]] = MappingProxyType({})
_MOBILE_TYPES: Final = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


def _national(raw: str) -> str | None:
    """11 ASCII digits starting with 1 after stripping +86 / 0086 / 86, else None."""
    if len(raw) == NATIONAL_DIGITS and raw[0] == "1" and raw.isascii() and raw.isdigit():
        return raw  # already national: the common case, on every send
    number = raw.strip()
    if len(number) > NATIONAL_DIGITS:
        for prefix in _COUNTRY_PREFIXES:
            if len(number) == len(prefix) + NATIONAL_DIGITS and number.startswith(prefix):
                number = number[len(prefix) :]
                break
    if (
        len(number) != NATIONAL_DIGITS
        or number[0] != "1"
        or not (number.isascii() and number.isdigit())
    ):
        return None
    return number


def _fallback(segment: str) -> Carrier | None:
    for length in range(len(segment), 2, -1):
        found = FALLBACK_PREFIXES.get(segment[:length])
        if found is not None:
            return found
    return None


@lru_cache(maxsize=1 << 14)  # segments are "1" + 4 digits: 10,000 at most
def _segment(segment: str) -> tuple[bool, Carrier | None]:
    """(valid CN mobile segment, its carrier if known) for a ``SEGMENT_DIGITS`` prefix."""
    sample = phonenumbers.parse(segment.ljust(11, "0"), "CN")
    if not phonenumbers.is_valid_number(sample):
        return False, None
    if phonenumbers.number_type(sample) not in _MOBILE_TYPES:
        return False, None
    return True, _NAMES.get(carrier.name_for_number(sample, "en")) or _fallback(segment)


def normalise_mobile(raw: str) -> str | None:
    """The 11-digit national form of a valid mainland mobile number, else None."""
    number = _national(raw)
    if number is None or not _segment(number[:SEGMENT_DIGITS])[0]:
        return None
    return number


def detect_carrier(number: str, overrides: Mapping[str, Carrier] = _NO_OVERRIDES) -> Carrier | None:
    """The carrier that delivers to ``number``, or None for a number that is not a CN mobile.

    ``overrides`` is the operator's number-portability table (携号转网), keyed by the
    11-digit national number; it is consulted first, so it also covers segments newer
    than the installed phonenumbers data.
    """
    national = _national(number)
    if national is None:
        return None
    if overrides:
        moved = overrides.get(national)
        if moved is not None:
            return moved
    return _segment(national[:SEGMENT_DIGITS])[1]


# -- the limits of a send, for every front door ------------------------------------------

#: Distinct numbers one send may name (SPEC 2.4; more is status 102).
MAX_NUMBERS: Final = 500
#: Digits of the extension a send may append to the account's access code (SPEC 2.4).
EXTNO_MAX_DIGITS: Final = 12


class TooManyNumbers(ValueError):
    """More than the limit of distinct numbers in one send."""


@dataclass(frozen=True, slots=True)
class MobileEntry:
    """One number of a send: as given (stripped) and normalised to 11 digits, or
    ``normalised=None`` when it is not a valid mainland mobile number."""

    raw: str
    normalised: str | None


def valid_extno(text: str) -> bool:
    """Whether ``text`` may extend the access code: 1 to 12 ASCII digits."""
    return text.isascii() and text.isdigit() and len(text) <= EXTNO_MAX_DIGITS


def distinct_mobiles(
    texts: Iterable[str],
    *,
    limit: int = MAX_NUMBERS,
    normalise: Callable[[str], str | None] = normalise_mobile,
) -> list[MobileEntry]:
    """The numbers of a send, stripped, blanks skipped, each once, in the order given.

    Two entries are the same number when they normalise to the same 11 digits (``+86``
    spellings included), or, when invalid, when their texts are equal. Raises
    :class:`TooManyNumbers` as soon as more than ``limit`` distinct entries are seen.
    """
    entries: list[MobileEntry] = []
    seen: set[str] = set()
    for piece in texts:
        text = piece.strip()
        if not text:
            continue
        normalised = normalise(text)
        key = normalised if normalised is not None else "\0" + text
        if key in seen:
            continue
        seen.add(key)
        entries.append(MobileEntry(text, normalised))
        if len(entries) > limit:
            raise TooManyNumbers(f"too many numbers, at most {limit} per request")
    return entries


def with_country_code(number: str, code: str = COUNTRY_CODE) -> str:
    """``13800138000`` (or +86 / 0086 / 86 before it) -> ``code`` + ``13800138000``; any
    other number as it is, without a leading ``+`` (carrier links want digits only)."""
    national = _national(number)
    return number.removeprefix("+") if national is None else code + national


def national_mobile(number: str) -> str:
    """``8613800138000`` (or +86 / 0086 before it) -> ``13800138000``; any other number,
    such as an access code that starts with 86, as it is."""
    return _national(number) or number
