"""Long messages arriving in segments: held until the set is complete or its time is up.

Pure logic; the clock is passed in. A front door adds each segment with the PDU it must
answer (its ``token``); once every segment of a set is in, :meth:`LongMessages.add`
returns the parts in order, and the front door submits the joined text as one message
and answers every segment. A set still incomplete ``timeout`` seconds after its first
segment is handed back by :meth:`LongMessages.expire` to be refused.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from duanxin.domain.segments import ConcatInfo

__all__ = ["BadSegment", "LongMessages", "Part"]

T = TypeVar("T")


class BadSegment(ValueError):
    """A segment number already held for its set, or outside 1..total."""


@dataclass(frozen=True, slots=True)
class Part(Generic[T]):
    number: int
    text: str
    token: T


@dataclass(slots=True)
class _Set(Generic[T]):
    total: int
    started: float
    parts: dict[int, Part[T]] = field(default_factory=dict)


class LongMessages(Generic[T]):
    """The incomplete long messages of one connection."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._sets: dict[tuple[Hashable, int, int], _Set[T]] = {}

    def add(
        self, key: Hashable, info: ConcatInfo, text: str, token: T, now: float
    ) -> list[Part[T]] | None:
        """Add one segment; the whole set in order once complete, else None.

        ``key`` tells the conversations apart (e.g. the destinations). A repeated or
        impossible segment number raises :class:`BadSegment` (refuse that segment).
        """
        slot = (key, info.reference, info.total)
        held = self._sets.get(slot)
        if held is None:
            held = self._sets[slot] = _Set(info.total, now)
        if info.number in held.parts or not 1 <= info.number <= info.total:
            raise BadSegment(f"segment {info.number} of {info.total} again or out of range")
        held.parts[info.number] = Part(info.number, text, token)
        if len(held.parts) < held.total:
            return None
        del self._sets[slot]
        return [held.parts[n] for n in sorted(held.parts)]

    def expire(self, now: float) -> list[list[T]]:
        """The tokens of every set whose time is up, each set in arrival order."""
        expired = []
        for slot, held in list(self._sets.items()):
            if now - held.started >= self.timeout:
                del self._sets[slot]
                expired.append([p.token for p in held.parts.values()])
        return expired

    def next_expiry(self) -> float | None:
        if not self._sets:
            return None
        return min(s.started for s in self._sets.values()) + self.timeout

    def drop(self) -> int:
        """Forget every set (the connection is gone); how many there were."""
        count = len(self._sets)
        self._sets.clear()
        return count

    def __len__(self) -> int:
        return len(self._sets)
