"""The platform's JSON encoding and time format, one place for every answer it writes."""

from __future__ import annotations

import json

__all__ = ["SEED_TIME_FORMAT", "json_bytes"]

#: Times as the published API page writes and reads them (``2026-12-01 09:30:00``).
SEED_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def json_bytes(document: object) -> bytes:
    """UTF-8 JSON, Chinese written as is, compact; dates and other values as their text."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode()
