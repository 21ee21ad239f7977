"""64-bit message ids laid out like a CMPP Msg_Id.

``month 4 | day 5 | hour 5 | minute 6 | second 6 | node 22 | sequence 16`` bits. Used for
the platform's ``mid`` (16 upper-case hex digits) and by the simulators for carrier ids.
A node that uses all 65,536 sequence numbers of one second borrows the next second's ids,
so ids never repeat while the clock moves forward.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

__all__ = ["MessageIdGenerator", "format_mid", "pack_msg_id", "unpack_msg_id"]

NODE_BITS, SEQUENCE_BITS = 22, 16
MAX_NODE = (1 << NODE_BITS) - 1
SEQUENCES_PER_SECOND = 1 << SEQUENCE_BITS
_ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class MsgIdParts:
    month: int
    day: int
    hour: int
    minute: int
    second: int
    node: int
    sequence: int


def pack_msg_id(when: datetime, node: int, sequence: int) -> int:
    """Lay out a 64-bit id from its parts."""
    if not 0 <= node <= MAX_NODE:
        raise ValueError(f"node id must be 0..{MAX_NODE}")
    return (
        (when.month << 60)
        | (when.day << 55)
        | (when.hour << 50)
        | (when.minute << 44)
        | (when.second << 38)
        | (node << 16)
        | (sequence & 0xFFFF)
    )


def unpack_msg_id(value: int) -> MsgIdParts:
    """Read the parts back out of a 64-bit id."""
    return MsgIdParts(
        month=(value >> 60) & 0xF,
        day=(value >> 55) & 0x1F,
        hour=(value >> 50) & 0x1F,
        minute=(value >> 44) & 0x3F,
        second=(value >> 38) & 0x3F,
        node=(value >> 16) & 0x3FFFFF,
        sequence=value & 0xFFFF,
    )


def format_mid(value: int) -> str:
    """The platform's rendering of an id: 16 upper-case hex digits."""
    return f"{value:016X}"


class MessageIdGenerator:
    """Unique ids for one node; thread-safe; the clock is passed in, never read here."""

    def __init__(self, node: int) -> None:
        if not 0 <= node <= MAX_NODE:
            raise ValueError(f"node id must be 0..{MAX_NODE}")
        self.node = node
        self._second: datetime | None = None
        self._sequence = 0
        # Of ``_second``: the id of sequence 0, and the second after it (a clock reading
        # before it is still in ``_second``: no datetime is truncated per id).
        self._base = 0
        self._following: datetime | None = None
        self._lock = threading.Lock()

    def _enter(self, second: datetime) -> datetime:
        """Hand out the ids of ``second`` from sequence 0; return the second after it."""
        following = second + _ONE_SECOND
        self._second, self._sequence, self._following = second, 0, following
        self._base = pack_msg_id(second, self.node, 0)
        return following

    def _catch_up(self, now: datetime) -> datetime:
        """Move to the second of ``now`` if the clock passed ``_second``; the second after."""
        following = self._following
        if following is None or now >= following:
            following = self._enter(now.replace(microsecond=0))
        return following

    def next_id(self, now: datetime) -> int:
        """The next id at wall-clock time ``now`` (local time of the platform)."""
        with self._lock:
            following = self._catch_up(now)
            if self._sequence >= SEQUENCES_PER_SECOND:  # borrow the next second's ids
                self._enter(following)
            value = self._base + self._sequence
            self._sequence += 1
            return value

    def next_ids(self, now: datetime, count: int) -> list[int]:
        """``count`` ids at ``now``, the same as ``count`` calls of :meth:`next_id`: a run
        within one second is its first id plus the sequence numbers (the lowest bits)."""
        ids: list[int] = []
        with self._lock:
            following = self._catch_up(now)
            while len(ids) < count:
                if self._sequence >= SEQUENCES_PER_SECOND:
                    following = self._enter(following)
                base = self._base
                run = min(count - len(ids), SEQUENCES_PER_SECOND - self._sequence)
                ids.extend(range(base + self._sequence, base + self._sequence + run))
                self._sequence += run
        return ids

    def resume_after(self, last: int, now: datetime) -> None:
        """Continue after ``last``, an id issued earlier (before a restart) at about ``now``.

        A process restarted within the same second, or after borrowing seconds ahead,
        would otherwise hand out ids it already gave. Ids from another year are ignored.
        """
        parts = unpack_msg_id(last)
        try:
            issued = now.replace(
                month=parts.month,
                day=parts.day,
                hour=parts.hour,
                minute=parts.minute,
                second=parts.second,
                microsecond=0,
            )
        except ValueError:
            return
        if issued > now + timedelta(days=1):
            return  # last year's id
        with self._lock:
            if (
                self._second is None
                or issued > self._second
                or (issued == self._second and parts.sequence >= self._sequence)
            ):
                self._enter(issued)
                self._sequence = parts.sequence + 1
