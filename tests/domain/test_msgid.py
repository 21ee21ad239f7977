"""Message ids: the CMPP layout, uniqueness, and borrowing the next second."""

from __future__ import annotations

from datetime import datetime

from duanxin.domain.msgid import MessageIdGenerator, format_mid, pack_msg_id, unpack_msg_id


def test_layout_matches_the_cmpp_worked_example() -> None:
    value = pack_msg_id(datetime(2025, 11, 28, 14, 30, 15), 123456, 1)
    assert value == 0xBE39E3C1E2400001
    parts = unpack_msg_id(value)
    assert (parts.month, parts.day, parts.hour, parts.minute, parts.second) == (11, 28, 14, 30, 15)
    assert (parts.node, parts.sequence) == (123456, 1)
    assert format_mid(value) == "BE39E3C1E2400001"


def test_a_full_second_moves_on_to_the_next_seconds_ids() -> None:
    generator = MessageIdGenerator(node=5)
    now = datetime(2026, 3, 1, 12, 0, 0)
    ids = generator.next_ids(now, 65536 + 10)
    assert len(set(ids)) == len(ids)
    assert unpack_msg_id(ids[65535]).second == 0
    assert unpack_msg_id(ids[65536]).second == 1
    assert unpack_msg_id(ids[65536]).sequence == 0


def test_nodes_never_collide() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0)
    first = set(MessageIdGenerator(1).next_ids(now, 1000))
    second = set(MessageIdGenerator(2).next_ids(now, 1000))
    assert not first & second


def test_a_restarted_node_continues_after_its_last_id() -> None:
    now = datetime(2026, 3, 1, 12, 0, 0)
    before = MessageIdGenerator(node=3).next_ids(now, 70000)  # borrows the next second
    restarted = MessageIdGenerator(node=3)
    restarted.resume_after(max(before, key=lambda v: (unpack_msg_id(v).second, v & 0xFFFF)), now)
    assert not set(restarted.next_ids(now, 1000)) & set(before)


def test_last_years_ids_do_not_push_the_clock() -> None:
    generator = MessageIdGenerator(node=3)
    generator.resume_after(
        pack_msg_id(datetime(2025, 12, 31, 23, 59, 59), 3, 5), datetime(2026, 1, 1)
    )
    assert unpack_msg_id(generator.next_id(datetime(2026, 1, 1))).month == 1


def test_ids_taken_together_are_those_taken_one_by_one() -> None:
    """Across a borrowed second too: 65,536 ids a second, then the next second's."""
    now = datetime(2026, 12, 2, 9, 30, 15, 250_000)
    together, alone = MessageIdGenerator(7), MessageIdGenerator(7)
    batches = [1, 500, 65_000, 500, 3]
    taken = [i for count in batches for i in together.next_ids(now, count)]
    assert taken == [alone.next_id(now) for _ in range(sum(batches))]
    assert len(set(taken)) == len(taken)
    assert unpack_msg_id(taken[-1]).second == 16  # borrowed from the next second
    later = now.replace(second=20)
    assert together.next_ids(later, 2) == [alone.next_id(later), alone.next_id(later)]
