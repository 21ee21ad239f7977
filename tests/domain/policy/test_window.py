"""The marketing sending window: open hours, edges, wrap past midnight, zones."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from duanxin.domain.policy.errors import PolicyError
from duanxin.domain.policy.window import DEFAULT_WINDOW, SendWindow, hold_until, parse_window

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(hour: int, minute: int = 0, second: int = 0, micro: int = 0, day: int = 10) -> datetime:
    return datetime(2025, 3, day, hour, minute, second, micro, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (at(8), None),  # opening instant: open
        (at(12), None),
        (at(21, 59, 59, 999999), None),
        (at(22), at(8, day=11)),  # closing instant: closed
        (at(23, 30), at(8, day=11)),
        (at(0), at(8)),
        (at(7, 59, 59, 999999), at(8)),
    ],
)
def test_default_window(now: datetime, expected: datetime | None) -> None:
    assert SendWindow(time(8), time(22)) == DEFAULT_WINDOW
    assert hold_until(now) == expected


def test_result_keeps_the_zone_and_naive_times_work() -> None:
    held = hold_until(at(23))
    assert held is not None and held.tzinfo is SHANGHAI
    assert hold_until(datetime(2025, 12, 31, 23, 0)) == datetime(2026, 1, 1, 8, 0)


def test_window_across_midnight() -> None:
    night = SendWindow(time(20), time(2))
    assert hold_until(at(21), night) is None
    assert hold_until(at(1, 59), night) is None
    assert hold_until(at(2), night) == at(20)
    assert hold_until(at(19, 59), night) == at(20)


def test_window_always_open() -> None:
    always = SendWindow(time(0), time(0))
    assert all(hold_until(at(hour), always) is None for hour in range(24))


def test_parse_window() -> None:
    assert parse_window("08:00-22:00") == DEFAULT_WINDOW
    assert parse_window(" 09:30 - 21:00 ") == SendWindow(time(9, 30), time(21))
    assert str(parse_window("09:30-21:00")) == "09:30-21:00"
    for bad in ("8-22", "08:00", "08:00-22:00-23:00", "25:00-22:00", "08:00+08:00-22:00"):
        with pytest.raises(PolicyError):
            parse_window(bad)
