"""The platform's JSON encoding and time format, one place for every answer it writes."""

from __future__ import annotations

import json
from datetime import datetime

__all__ = ["SEED_TIME_FORMAT", "json_bytes", "parse_local_time"]

#: Times as the published API page writes and reads them (``2026-12-01 09:30:00``).
SEED_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def json_bytes(document: object) -> bytes:
    """UTF-8 JSON, Chinese written as is, compact; dates and other values as their text."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def parse_local_time(text: str) -> datetime:
    """``YYYY-MM-DD HH:MM:SS``, ``YYYY-MM-DDTHH:MM:SS`` or ``YYYY-MM-DD`` (midnight), local
    time of the platform; ``ValueError`` naming the accepted forms otherwise."""
    value = text.strip().replace("T", " ")
    for form in (SEED_TIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, form)
        except ValueError:
            continue
    raise ValueError(f"time {text!r}: expected YYYY-MM-DD or YYYY-MM-DD HH:MM:SS")
