"""The platform's JSON encoding, one place for every answer it writes."""

from __future__ import annotations

import json

__all__ = ["json_bytes"]


def json_bytes(document: object) -> bytes:
    """UTF-8 JSON, Chinese written as is, compact; dates and other values as their text."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode()
