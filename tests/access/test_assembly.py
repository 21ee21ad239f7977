"""Long messages held until complete, with a fake clock."""

from __future__ import annotations

import pytest

from duanxin.access.assembly import BadSegment, LongMessages
from duanxin.domain.segments import ConcatInfo


def test_a_set_is_returned_in_order_once_complete() -> None:
    long: LongMessages[str] = LongMessages(timeout=60)
    assert long.add("k", ConcatInfo(7, 3, 2), "b", "pdu2", now=0) is None
    assert long.add("k", ConcatInfo(7, 3, 3), "c", "pdu3", now=1) is None
    parts = long.add("k", ConcatInfo(7, 3, 1), "a", "pdu1", now=2)
    assert parts is not None
    assert [p.text for p in parts] == ["a", "b", "c"]
    assert [p.token for p in parts] == ["pdu1", "pdu2", "pdu3"]
    assert len(long) == 0 and long.next_expiry() is None


def test_conversations_and_references_are_kept_apart() -> None:
    long: LongMessages[int] = LongMessages(timeout=60)
    assert long.add("a", ConcatInfo(1, 2, 1), "x", 1, now=0) is None
    assert long.add("b", ConcatInfo(1, 2, 1), "y", 2, now=0) is None
    assert long.add("a", ConcatInfo(2, 2, 1), "z", 3, now=0) is None
    parts = long.add("b", ConcatInfo(1, 2, 2), "y2", 4, now=0)
    assert parts is not None and [p.token for p in parts] == [2, 4]
    assert len(long) == 2


def test_an_incomplete_set_expires_after_the_timeout() -> None:
    long: LongMessages[str] = LongMessages(timeout=30)
    long.add("k", ConcatInfo(9, 2, 1), "a", "first", now=100)
    assert long.next_expiry() == 130
    assert long.expire(now=129) == []
    assert long.expire(now=130) == [["first"]]
    assert long.next_expiry() is None
    # The second segment after the expiry starts a new set (refused in its turn).
    assert long.add("k", ConcatInfo(9, 2, 2), "b", "second", now=131) is None


@pytest.mark.parametrize("number", [0, 3, 1])
def test_a_repeated_or_impossible_segment_is_refused(number: int) -> None:
    long: LongMessages[str] = LongMessages(timeout=30)
    long.add("k", ConcatInfo(9, 2, 1), "a", "first", now=0)
    with pytest.raises(BadSegment):
        long.add("k", ConcatInfo(9, 2, number), "x", "bad", now=0)
