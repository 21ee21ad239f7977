"""Content rules that need no database: length and the signature 【...】."""

from __future__ import annotations

import re

from duanxin.domain.status import Status, StatusError

__all__ = ["MAX_CONTENT_CHARS", "find_signature", "sign_content"]

MAX_CONTENT_CHARS = 1000
_SIGNATURE_AT_START = re.compile(r"^\s*(【[^【】]{1,20}】)")
_SIGNATURE_AT_END = re.compile(r"(【[^【】]{1,20}】)\s*$")


def find_signature(content: str) -> str | None:
    """The signature at the start or end of ``content`` (with its brackets), if any."""
    match = _SIGNATURE_AT_START.search(content) or _SIGNATURE_AT_END.search(content)
    return match.group(1) if match else None


def sign_content(content: str, default_signature: str) -> str:
    """Return the content to send: as is when signed, else with the default prepended.

    Raises status 5 when the content carries no signature and the account has no default.
    """
    if not content.strip():
        raise StatusError(Status.MALFORMED, "content is empty")
    if len(content) > MAX_CONTENT_CHARS:
        raise StatusError(Status.MALFORMED, f"content exceeds {MAX_CONTENT_CHARS} characters")
    if find_signature(content) is not None:
        return content
    if default_signature:
        signature = default_signature
        if not signature.startswith("【"):
            signature = f"【{signature}】"
        return signature + content
    raise StatusError(Status.OTHER, "content must carry a signature 【...】 at its start or end")
