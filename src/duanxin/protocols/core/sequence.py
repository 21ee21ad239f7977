"""Sequence numbers with wraparound, and reconnect back-off."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Backoff", "SequenceCounter"]


class SequenceCounter:
    """Hands out ``first, first + 1, ..., last`` and then starts again at ``first``."""

    __slots__ = ("_first", "_last", "_next")

    def __init__(self, *, first: int = 1, last: int = 0xFFFFFFFF, start: int | None = None) -> None:
        if not first <= last:
            raise ValueError("first must not exceed last")
        self._first = first
        self._last = last
        self._next = first if start is None else start

    def __call__(self) -> int:
        value = self._next
        self._next = self._first if value >= self._last else value + 1
        return value


@dataclass(slots=True)
class Backoff:
    """Exponential reconnect delays with jitter: 0.5, 1, 2, 4 ... capped at ``maximum``."""

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1
    _attempt: int = field(default=0, init=False)

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * self.factor**self._attempt)
        self._attempt += 1
        return delay * (1 + random.uniform(-self.jitter, self.jitter))

    def reset(self) -> None:
        self._attempt = 0
