"""SMGP message ids: 10 BCD bytes = SMGW code (6 digits) + MMDDHHMM + sequence (6 digits).

Every nibble is a decimal digit, so the lowercase hex of the 10 bytes *is* the 20-digit
decimal id; that string is the canonical carrier id (:func:`canonical_id`).
"""

from __future__ import annotations

import threading
from datetime import datetime

from duanxin.protocols.core.errors import LocalProtocolError
from duanxin.protocols.smgp.pdu import MSG_ID_SIZE

__all__ = ["MsgIdGenerator", "canonical_id", "make_msg_id"]

SEQUENCE_LIMIT = 1_000_000  # six BCD digits
SMGW_DEVICE_TYPE = "06"
_AREA_CODES = 1000  # three digits


def canonical_id(msg_id: bytes) -> str:
    """The canonical carrier id of an SMGP MsgID: its 20 lowercase hex digits.

    For a well-formed (BCD) id this equals the 20-digit decimal id the specification prints.
    """
    return msg_id.hex()


def smgw_code(node_id: int, *, unit: int = 1) -> str:
    """A 6-digit SMGW code for a node: area code (3 digits) + device type ``06`` + unit."""
    return f"{node_id % _AREA_CODES:03d}{SMGW_DEVICE_TYPE}{unit % 10}"


def make_msg_id(code: str, when: datetime, sequence: int) -> bytes:
    """Lay out one MsgID; ``when`` is the receive time (gateway local time)."""
    # MMDDHHMM by arithmetic, not strftime: the simulator makes two ids per submit.
    minute = when.month * 1_000_000 + when.day * 10_000 + when.hour * 100 + when.minute
    digits = f"{code}{minute:08d}{sequence % SEQUENCE_LIMIT:06d}"
    if len(digits) != 2 * MSG_ID_SIZE or not digits.isdigit():
        raise LocalProtocolError(f"SMGW code {code!r} must be 6 digits")
    return bytes.fromhex(digits)


class MsgIdGenerator:
    """MsgIDs for one gateway; the sequence advances by one per id and wraps at 999999."""

    def __init__(self, code: str) -> None:
        make_msg_id(code, datetime(2000, 1, 1), 0)  # validate the code once
        self.code = code
        self._sequence = 0
        self._lock = threading.Lock()

    def next_ids(self, when: datetime, count: int = 1) -> list[bytes]:
        """``count`` consecutive ids (a group send's m ... m+n-1) received at ``when``."""
        with self._lock:
            first = self._sequence
            self._sequence = (first + count) % SEQUENCE_LIMIT
        return [make_msg_id(self.code, when, first + n) for n in range(count)]

    def next_id(self, when: datetime) -> bytes:
        return self.next_ids(when)[0]
