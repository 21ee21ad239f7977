"""The GSM 03.38 default alphabet, one septet per octet (unpacked), as SMPP carries it.

Text goes as septet values 0x00-0x7F, one per byte; the characters of the extension table
take two: the escape 0x1B, then their code. Packing eight septets into seven octets is the
SMSC's business on the air interface, never ours.
"""

from __future__ import annotations

__all__ = [
    "BASIC",
    "ESCAPE",
    "EXTENSION",
    "decode_gsm",
    "encode_gsm",
    "gsm_septets",
    "is_gsm_text",
    "septets_of",
]

ESCAPE = 0x1B
SEPTET_LIMIT = 0x80
REPLACEMENT = "\ufffd"
UNDERSTOOD_AS_SPACE = " "  # 03.38: an escape the receiver cannot resolve shows as a space

#: The basic table in septet order; position 0x1B is the escape (shown here as a space).
BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
#: The extension table: the septet that follows the escape, and what it stands for.
EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

_ENCODE: dict[str, bytes] = {ch: bytes((code,)) for code, ch in enumerate(BASIC) if code != ESCAPE}
_ENCODE.update({ch: bytes((ESCAPE, code)) for code, ch in EXTENSION.items()})
_SEPTETS = {ch: len(encoded) for ch, encoded in _ENCODE.items()}


def is_gsm_text(text: str) -> bool:
    """True when every character of ``text`` is in the basic or the extension table."""
    return all(ch in _ENCODE for ch in text)


def gsm_septets(text: str) -> int:
    """Septets ``text`` takes (2 for an extension character); ``text`` must be GSM text."""
    return sum(_SEPTETS[ch] for ch in text)


def septets_of(ch: str) -> int:
    """Septets one character takes: 1, or 2 for an extension-table character."""
    return _SEPTETS[ch]


def encode_gsm(text: str) -> bytes:
    """``text`` as unpacked septets; ValueError names the first character the alphabet lacks."""
    try:
        return b"".join(_ENCODE[ch] for ch in text)
    except KeyError as error:
        raise ValueError(f"{error.args[0]!r} is not in the GSM 03.38 alphabet") from None


def decode_gsm(data: bytes) -> str:
    """Unpacked septets as text; never raises.

    An escape followed by a code the extension table lacks reads as that code's basic
    character (as 03.38 asks), a trailing escape as a space, and an octet above 0x7F,
    which no septet can be, as U+FFFD.
    """
    out: list[str] = []
    escaped = False
    for octet in data:
        if octet >= SEPTET_LIMIT:
            out.append(REPLACEMENT)
            escaped = False
        elif escaped:
            out.append(EXTENSION.get(octet) or _basic(octet))
            escaped = False
        elif octet == ESCAPE:
            escaped = True
        else:
            out.append(BASIC[octet])
    if escaped:
        out.append(UNDERSTOOD_AS_SPACE)
    return "".join(out)


def _basic(octet: int) -> str:
    return UNDERSTOOD_AS_SPACE if octet == ESCAPE else BASIC[octet]
