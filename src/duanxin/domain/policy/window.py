"""The marketing sending window (default 08:00–22:00 local time).

Marketing accepted outside the window is held, not refused, and sent when it opens
(SPEC 3). The clock is the caller's: pass ``now`` as a datetime in the platform's local
time zone (aware, e.g. ``ZoneInfo("Asia/Shanghai")``, or naive local time); the answer
is in the same zone. For a message scheduled with ``sendtime``, pass that time instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta

from duanxin.domain.policy.errors import PolicyError

__all__ = ["DEFAULT_WINDOW", "SendWindow", "hold_until", "parse_window"]


@dataclass(frozen=True, slots=True)
class SendWindow:
    """Sending is open from ``start`` (included) to ``end`` (excluded), every day.

    ``end`` before ``start`` wraps past midnight (``20:00–02:00``); ``start == end``
    means always open.
    """

    start: time = time(8, 0)
    end: time = time(22, 0)

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise PolicyError("window times are local wall-clock times, without a zone")

    def is_open(self, at: time) -> bool:
        at = at.replace(tzinfo=None)
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


DEFAULT_WINDOW = SendWindow()


def hold_until(now: datetime, window: SendWindow = DEFAULT_WINDOW) -> datetime | None:
    """None when marketing may be sent at ``now``; else the moment the window next opens."""
    if window.is_open(now.timetz()):
        return None
    opening = datetime.combine(now.date(), window.start, tzinfo=now.tzinfo)
    if opening <= now:
        opening = datetime.combine(now.date() + timedelta(days=1), window.start, now.tzinfo)
    return opening


def parse_window(text: str) -> SendWindow:
    """Parse ``"08:00-22:00"`` (the operator's spelling); raises :class:`PolicyError`."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in text.split("-"))
    except ValueError:
        raise PolicyError(f"bad sending window {text!r}: write e.g. 08:00-22:00") from None
    return SendWindow(start, end)
