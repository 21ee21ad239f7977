"""Signatures ``【公司名】``: what a valid one is, where content carries it, the default.

A signature is ``【`` + 2 to 12 characters + ``】``; the characters may not be brackets
``【】``, line breaks or control characters, and blanks around them are not part of it
(``【 公司 】`` is ``【公司】``). Content carries its signature at its very start or its
very end (blanks around the content ignored). Signatures are compared exactly in that
canonical form, with no width or case folding, since the carrier shows them as written.
"""

from __future__ import annotations

import re
from collections.abc import Collection

from duanxin.domain.policy.errors import PolicyError, PolicyRefusal
from duanxin.domain.status import Status

__all__ = [
    "MAX_SIGNATURE_CHARS",
    "MIN_SIGNATURE_CHARS",
    "apply_signature",
    "signature_of",
    "signatures_of",
    "signed_content",
    "split_signatures",
    "strip_signatures",
    "validate_signature",
]

MIN_SIGNATURE_CHARS = 2
MAX_SIGNATURE_CHARS = 12

# A bracket pair at the start or end; the length of its inside is checked once stripped.
_AT_START = re.compile(r"^\s*【([^【】\r\n]{1,40})】")
_AT_END = re.compile(r"【([^【】\r\n]{1,40})】\s*$")


def _canonical(inside: str) -> str | None:
    inside = inside.strip()
    if MIN_SIGNATURE_CHARS <= len(inside) <= MAX_SIGNATURE_CHARS:
        return f"【{inside}】"
    return None


def validate_signature(text: str) -> str:
    """The canonical form ``【...】`` of a signature submitted by a customer.

    Accepts it with or without its brackets (``公司名`` or ``【公司名】``). Raises
    :class:`PolicyError` when it does not hold 2 to 12 characters, or holds brackets,
    line breaks or control characters.
    """
    inside = text.strip()
    if inside.startswith("【") and inside.endswith("】"):
        inside = inside[1:-1].strip()
    if any(c in "【】" or not c.isprintable() for c in inside):
        raise PolicyError("a signature may not hold brackets 【】, line breaks or control codes")
    signature = _canonical(inside)
    if signature is None:
        raise PolicyError(
            f"a signature holds {MIN_SIGNATURE_CHARS} to {MAX_SIGNATURE_CHARS} characters"
            f" between 【 and 】, got {len(inside)}"
        )
    return signature


def split_signatures(content: str) -> tuple[str | None, str, str | None]:
    """``(start signature, body, end signature)`` of ``content``; signatures canonical.

    The body is the content without them, blanks around it removed. Content that is
    nothing but one signature has it at its start only (and an empty body).
    """
    start, end = 0, len(content)
    first = last = None
    found = _AT_START.search(content)
    if found and (first := _canonical(found.group(1))):
        start = found.end()
    found = _AT_END.search(content, start)
    if found and (last := _canonical(found.group(1))):
        end = found.start()
    return first, content[start:end].strip(), last


def signatures_of(content: str) -> tuple[str | None, str | None]:
    """The signatures at the start and at the end of ``content`` (canonical), if any."""
    first, _body, last = split_signatures(content)
    return first, last


def signature_of(content: str) -> str | None:
    """The signature ``content`` carries: the one at its start, else the one at its end."""
    first, _body, last = split_signatures(content)
    return first or last


def strip_signatures(content: str) -> str:
    """``content`` without its signatures at the start and end, blanks around removed."""
    return split_signatures(content)[1]


def apply_signature(content: str, approved: Collection[str], default: str | None) -> str:
    """The content as it will be sent, signed with an approved signature of the account.

    - It carries a signature (start or end) and one of them is in ``approved`` (canonical
      forms, see :func:`validate_signature`): returned unchanged.
    - It carries signatures but none is approved: refused (status 5), naming it.
    - It carries none: ``default`` (any form :func:`validate_signature` accepts) is
      prepended; without a default (None or ``""``) it is refused (status 5).
    """
    first, _body, last = split_signatures(content)
    canonical = validate_signature(default) if default else None
    return signed_content(content, first, last, approved, canonical)


def signed_content(
    content: str,
    first: str | None,
    last: str | None,
    approved: Collection[str],
    default: str | None,
) -> str:
    """:func:`apply_signature` on an already split content and a canonical default."""
    if first is None and last is None:
        if default:
            return default + content
        raise PolicyRefusal(Status.OTHER, "content must carry a signature 【...】 at start or end")
    if first in approved or last in approved:
        return content
    raise PolicyRefusal(Status.OTHER, f"signature {first or last} is not approved for this account")
