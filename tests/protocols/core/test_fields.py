"""Field helpers: report times (read exactly as strptime reads them), fixed text fields."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duanxin.protocols.core.clock import CHINA_STANDARD_TIME
from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.core.fields import decode_fixed, parse_report_time
from duanxin.protocols.core.table import U8, Block, Text

_LAYOUTS = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S"}


def _by_strptime(text: str, zone: tzinfo | None) -> datetime | None:
    layout = _LAYOUTS.get(len(text))
    if layout is None:
        return None
    try:
        return datetime.strptime(text, layout).replace(tzinfo=zone)
    except ValueError:
        return None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2611281230", datetime(2026, 11, 28, 12, 30, tzinfo=CHINA_STANDARD_TIME)),
        ("6812312359", datetime(2068, 12, 31, 23, 59, tzinfo=CHINA_STANDARD_TIME)),
        ("6901010000", datetime(1969, 1, 1, 0, 0, tzinfo=CHINA_STANDARD_TIME)),
        ("261128123059", datetime(2026, 11, 28, 12, 30, 59, tzinfo=CHINA_STANDARD_TIME)),
        ("2602301230", None),  # 30 February
        ("2613011230", None),
        ("2611281260", None),
        ("26112812", None),
        ("", None),
    ],
)
def test_report_times(text: str, expected: datetime | None) -> None:
    assert parse_report_time(text, CHINA_STANDARD_TIME) == expected


@given(st.text(alphabet="0123456789 ", min_size=10, max_size=12))
def test_report_times_agree_with_strptime(text: str) -> None:
    for zone in (None, CHINA_STANDARD_TIME):
        assert parse_report_time(text, zone) == _by_strptime(text, zone)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"BENCH\x00\x00\x00\x00\x00", "BENCH"),
        (memoryview(b"01 \x00x"), "01"),
        (bytearray(b"\x00abc"), ""),
        (b"A" * 40 + b"  ", "A" * 40),  # longer than the cached sizes
    ],
)
def test_decode_fixed_cuts_at_nul_and_strips_spaces(raw: bytes, text: str) -> None:
    assert decode_fixed(raw) == text
    assert decode_fixed(raw) == text  # and the same again, from the cache


def test_cmpp_block_pack_still_names_the_bad_field() -> None:
    block = Block(_Fields, (("service_id", Text(4)), ("msg_level", U8)))
    assert block.pack(_Fields("AB", 3)) == b"AB\x00\x00\x03"
    with pytest.raises(LocalProtocolError, match="service_id"):
        block.pack(_Fields("TOOLONG", 3))
    with pytest.raises(LocalProtocolError, match="ASCII"):
        block.pack(_Fields("短", 3))
    with pytest.raises(LocalProtocolError, match="msg_level"):
        block.pack(_Fields("AB", 2.5))
    with pytest.raises(LocalProtocolError, match="out of range"):
        block.pack(_Fields("AB", 256))


@dataclass
class _Fields:
    service_id: object
    msg_level: object
