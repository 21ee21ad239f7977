"""China Standard Time, the clock the Chinese carrier protocols write into their PDUs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from duanxin.protocols.core.fields import parse_report_time

__all__ = ["CHINA_STANDARD_TIME", "Clock", "china_report_time", "china_standard_time", "mmddhhmmss"]

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
#: What the protocol clients read the time of their logins and sequence numbers from.
Clock = Callable[[], datetime]


def china_standard_time() -> datetime:
    """The wall clock in UTC+8 (the default clock of the protocol clients)."""
    return datetime.now(CHINA_STANDARD_TIME)


def mmddhhmmss(when: datetime) -> int:
    """The MMDDHHMMSS number of ``when`` in China Standard Time (login timestamps, SGIP
    sequence times). A naive ``when`` is taken to be China Standard Time already."""
    if when.tzinfo is not None and when.tzinfo is not CHINA_STANDARD_TIME:
        when = when.astimezone(CHINA_STANDARD_TIME)
    # Arithmetic, not strftime: SGIP stamps the time into every request's sequence.
    return (
        when.month * 100_000_000
        + when.day * 1_000_000
        + when.hour * 10_000
        + when.minute * 100
        + when.second
    )


def china_report_time(text: str) -> datetime | None:
    """A report's ``YYMMDDhhmm[ss]`` (CMPP, SMGP) as China Standard Time; None if unreadable."""
    return parse_report_time(text, CHINA_STANDARD_TIME)
