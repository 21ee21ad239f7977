"""Send-rate limits: a fixed token bucket, and a channel's adaptive rate under its TPS.

Pure logic; every clock reading is passed in, so tests drive them with a fake clock.
"""

from __future__ import annotations

import math

__all__ = ["AdaptiveRate", "TokenBucket", "retry_delay"]


class TokenBucket:
    """``rate`` tokens per second, bursts up to ``rate``; the clock is passed in."""

    __slots__ = ("_capacity", "_rate", "_stamp", "_tokens")

    def __init__(self, rate: float, now: float) -> None:
        self._rate = rate
        self._capacity = max(1.0, rate)
        self._tokens = self._capacity
        self._stamp = now

    def take(self, now: float) -> bool:
        """Spend one token if there is one."""
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_time(self, now: float) -> float:
        """Seconds until a token will be available."""
        tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self._rate


class AdaptiveRate:
    """A channel's send rate: cut when the carrier throttles, raised again while it accepts.

    - Never above ``ceiling`` (the channel's configured TPS); ``None``: no configured limit,
      and no limit at all until the carrier first throttles.
    - A throttled submit cuts the rate to a little below what the carrier accepted over the
      last seconds (so a 2,000 TPS channel in front of a 300 TPS carrier settles in one
      step, not ten), and never lower on a further throttle while the carrier keeps
      accepting that much: a carrier whose allowance was drained goes on throttling for a
      moment at any rate, and cutting again each time would sink the rate far below what it
      takes. Only when it accepted nothing lately is the rate multiplied by ``decrease``.
      Only submits sent after the last cut count: a full window of throttled answers is one
      congestion signal, not sixteen.
    - Every accepted submit raises the rate additively by ``increase`` of itself per second
      elapsed (at least ``min_step`` per second) back up to the ceiling, starting ``hold``
      seconds after the last cut (the carrier's rate was just measured: stay there a while
      rather than provoke the next throttle at once).
    - After a cut the burst is spent: the next submit waits for the new rate; and until
      the rate is back at the ceiling, tokens saved up while idle (e.g. while the link was
      down) allow a burst of a tenth of a second's worth, not a whole second's.
    """

    __slots__ = (
        "_accepted_now",
        "_accepted_prev",
        "_burst",
        "_last_cut",
        "_last_raise",
        "_origin",
        "_rate",
        "_sent_now",
        "_sent_prev",
        "_stamp",
        "_tokens",
        "_window_start",
        "ceiling",
        "cuts",
        "decrease",
        "floor",
        "hold",
        "increase",
        "min_step",
        "peak",
    )

    WINDOW = 2.0  # seconds over which the carrier's accepted rate is measured
    BURST = 1.0  # seconds of tokens that may be saved up at the configured rate
    CAUTIOUS_BURST = 0.1  # ... and after the carrier pushed back
    #: Below the carrier's measured rate by this much: sending at exactly its rate, network
    #: jitter alone would have every other submit arrive a little early and be throttled.
    MARGIN = 0.95

    def __init__(
        self,
        ceiling: float | None,
        now: float,
        *,
        decrease: float = 0.7,
        increase: float = 0.1,
        min_step: float = 0.1,
        floor: float = 0.2,
        hold: float = 5.0,
    ) -> None:
        self.ceiling = ceiling if ceiling else None
        self.hold = hold
        self.decrease = decrease
        self.increase = increase
        self.min_step = min_step
        self.floor = floor
        self.peak = self.ceiling  # where an unlimited channel stops climbing and is unlimited
        self.cuts = 0
        self._rate = self.ceiling
        self._burst = self.BURST
        self._tokens = max(1.0, self.ceiling or 1.0)
        self._stamp = now
        self._last_cut = -math.inf
        self._last_raise = now
        self._window_start = self._origin = now
        self._accepted_now = 0
        self._accepted_prev = 0
        self._sent_now = 0
        self._sent_prev = 0

    @property
    def rate(self) -> float | None:
        """Submits per second allowed now; ``None``: unlimited."""
        return self._rate

    def set_ceiling(self, ceiling: float | None) -> None:
        """A new configured TPS (a cluster worker's share of its channel's, which changes
        with the connections it holds): a rate at or above it comes down to it; one at the
        old ceiling follows it up."""
        ceiling = ceiling if ceiling else None
        at_top = self._rate == self.ceiling
        self.ceiling = ceiling
        if ceiling is None:
            if at_top:
                self._rate = None
            return
        self.peak = ceiling
        if at_top or self._rate is None or self._rate > ceiling:
            self._rate = ceiling
        self._tokens = min(self._tokens, max(1.0, ceiling * self._burst))

    # ------------------------------------------------------------ sending

    def take(self, now: float) -> bool:
        """Spend one token if there is one (always, while unlimited)."""
        rate = self._rate
        if rate is None:
            self._roll(now)
            self._sent_now += 1
            return True
        self._tokens = min(max(1.0, rate * self._burst), self._tokens + (now - self._stamp) * rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_time(self, now: float) -> float:
        """Seconds until a token will be available."""
        rate = self._rate
        if rate is None:
            return 0.0
        tokens = min(max(1.0, rate * self._burst), self._tokens + (now - self._stamp) * rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / rate

    # ------------------------------------------------------------ feedback

    def accepted(self, now: float) -> None:
        """The carrier accepted a submit: count it, and climb toward the ceiling."""
        self._roll(now)
        self._accepted_now += 1
        rate = self._rate
        if rate is None or now < self._last_cut + self.hold:
            return
        since = now - max(self._last_raise, self._last_cut + self.hold)
        step = max(self.min_step, rate * self.increase) * max(0.0, since)
        self._last_raise = now
        if step <= 0.0:
            return
        raised = rate + step
        top = self.ceiling if self.ceiling is not None else self.peak
        if top is not None and raised >= top:
            self._rate = self.ceiling  # back to the configured TPS, or unlimited again
            self._burst = self.BURST
            return
        self._rate = raised

    def throttled(self, sent_at: float, now: float, *, explicit: bool = True) -> bool:
        """The carrier throttled a submit sent at ``sent_at``; True when the rate was cut.

        ``explicit=False``: a weaker sign of congestion (no answer in time, the link lost
        with the submit in its window): it lowers a limited rate but puts no limit on an
        unlimited channel.
        """
        if sent_at < self._last_cut:
            return False  # sent before the last cut: part of the congestion already handled
        rate = self._rate
        if rate is None and not explicit:
            return False
        self._roll(now)
        carrier_rate = self.accepted_rate(now)
        if rate is None:  # unlimited until now: start from what the carrier took, or, when
            # it took nothing yet (it throttled the very first submits), from what was sent
            sent_rate = self._windowed(self._sent_prev, self._sent_now, now)
            rate = max(carrier_rate or sent_rate, self.floor)
            if self.peak is None or rate > self.peak:
                self.peak = rate
        cut = min(rate, carrier_rate * self.MARGIN) if carrier_rate > 0 else rate * self.decrease
        self._rate = max(self.floor, cut)
        self._tokens = 0.0
        self._burst = self.CAUTIOUS_BURST
        self._stamp = now
        self._last_cut = now
        self._last_raise = now
        self.cuts += 1
        return True

    def accepted_rate(self, now: float) -> float:
        """Submits per second the carrier accepted lately (a sliding-window estimate)."""
        self._roll(now)
        return self._windowed(self._accepted_prev, self._accepted_now, now)

    def _windowed(self, previous: int, current: int, now: float) -> float:
        """Events per second from the counts of the last window and of this one."""
        elapsed = (now - self._window_start) / self.WINDOW
        count = previous * max(0.0, 1.0 - elapsed) + current
        # Over the window, or the time seen so far when shorter, but at least a second: a
        # burst the carrier took at once is its per-second allowance, not a rate above it.
        span = max(1.0, min(self.WINDOW, now - self._origin))
        return count / span

    def _roll(self, now: float) -> None:
        passed = now - self._window_start
        if passed < self.WINDOW:
            return
        recent = passed < 2 * self.WINDOW
        self._accepted_prev = self._accepted_now if recent else 0
        self._sent_prev = self._sent_now if recent else 0
        self._accepted_now = self._sent_now = 0
        self._window_start = now if passed >= 2 * self.WINDOW else self._window_start + self.WINDOW


def retry_delay(attempt: int, base: float, cap: float) -> float:
    """The back-off before try ``attempt + 1`` after ``attempt`` transient failures."""
    if attempt <= 0:
        return 0.0
    return float(min(cap, base * 2.0 ** min(attempt - 1, 64)))
