"""Field helpers shared by the codecs: reading fixed-length text fields and the
``YYMMDDhhmm[ss]`` times of status reports."""

from __future__ import annotations

from datetime import datetime, tzinfo
from functools import lru_cache

__all__ = ["decode_fixed", "parse_report_time"]


#: Fixed fields repeat a lot (service ids, fee codes, empty fields): their decoded text is
#: kept for fields up to this size, in a table emptied whenever it reaches the limit.
_CACHED_FIELD_SIZE = 32
_CACHE_LIMIT = 4096
_decoded: dict[bytes, str] = {}


def decode_fixed(raw: bytes | memoryview) -> str:
    """Read a fixed text field: cut at the first NUL, strip trailing spaces."""
    data = raw if type(raw) is bytes else bytes(raw)
    text = _decoded.get(data)
    if text is None:
        text = data.partition(b"\x00")[0].decode("latin-1").rstrip(" ")
        if len(data) <= _CACHED_FIELD_SIZE:
            if len(_decoded) >= _CACHE_LIMIT:
                _decoded.clear()
            _decoded[data] = text
    return text


_TIME_LAYOUTS = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S"}


@lru_cache(maxsize=256)
def parse_report_time(text: str, zone: tzinfo | None = None) -> datetime | None:
    """``YYMMDDhhmm`` or ``YYMMDDhhmmss`` (as ``strptime`` reads them) in ``zone``.

    ``None`` when it is not such a time. Reports arriving together mostly carry the same
    minute, hence the cache; ten or twelve ASCII digits are read without ``strptime``,
    which is slow. Two-digit years follow ``strptime``: 69-99 are 19xx, 00-68 are 20xx.
    """
    layout = _TIME_LAYOUTS.get(len(text))
    if layout is None:
        return None
    if not (text.isascii() and text.isdigit()):
        try:  # whatever else strptime accepts (e.g. " 1" for a day)
            return datetime.strptime(text, layout).replace(tzinfo=zone)
        except ValueError:
            return None
    year = int(text[0:2])
    try:
        return datetime(
            year + (1900 if year >= 69 else 2000),
            int(text[2:4]),
            int(text[4:6]),
            int(text[6:8]),
            int(text[8:10]),
            int(text[10:12]) if len(text) == 12 else 0,
            tzinfo=zone,
        )
    except ValueError:
        return None
