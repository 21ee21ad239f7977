"""``with_field``, the fast copy sessions use to stamp sequence numbers into PDUs, and the
sans-IO reconnect back-off on a fake clock."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import pytest

from duanxin.protocols.cmpp.pdu import CmppDeliver, CmppSubmit
from duanxin.protocols.core.sequence import Backoff, with_field, with_fields
from duanxin.protocols.sgip.pdu import SequenceNumber, Submit
from duanxin.protocols.smgp.pdu import SmgpSubmit
from duanxin.protocols.smpp.pdu import SubmitSm


@pytest.mark.parametrize(
    ("pdu", "name", "value"),
    [
        (CmppSubmit(dest_terminal_ids=("13800138000",), msg_content=b"hi"), "sequence_id", 7),
        (CmppDeliver(msg_id=3, msg_content=b"x"), "sequence_id", 0xFFFFFFFF),
        (SmgpSubmit(dest_term_ids=("13800138000",)), "sequence_id", 9),
        (SubmitSm(destination_addr="8613800138000"), "sequence_number", 11),
        (Submit(user_numbers=("8613800138000",)), "sequence", SequenceNumber(1, 2, 3)),
    ],
)
def test_with_field_equals_dataclasses_replace(pdu: object, name: str, value: object) -> None:
    copy = with_field(pdu, name, value)
    assert copy == dataclasses.replace(pdu, **{name: value})  # type: ignore[type-var]
    assert type(copy) is type(pdu)
    assert getattr(copy, name) == value
    assert copy is not pdu
    assert getattr(pdu, name) != value  # the original is untouched


@dataclass(frozen=True)
class _WithPostInit:
    sequence_id: int = 0
    doubled: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "doubled", self.sequence_id * 2)


def test_with_field_falls_back_to_replace_for_other_classes() -> None:
    assert with_field(_WithPostInit(1), "sequence_id", 5).doubled == 10


def test_with_field_refuses_an_unknown_field_like_replace() -> None:
    with pytest.raises(TypeError):
        with_field(CmppSubmit(dest_terminal_ids=("1",)), "no_such_field", 1)


def test_with_fields_equals_dataclasses_replace() -> None:
    template = Submit(corp_id="92201", service_type="BENCH")
    changes = {"user_numbers": ("8613800138000",), "sp_number": "1069", "tp_udhi": 1}
    copy = with_fields(template, **changes)
    assert copy == dataclasses.replace(template, **changes)  # type: ignore[arg-type]
    assert with_fields(template, sp_number="1", tp_udhi=0) == dataclasses.replace(
        template, sp_number="1", tp_udhi=0
    )  # the same fields in another order and number: a copier of their own
    with pytest.raises(TypeError):
        with_fields(template, no_such_field=1)


def test_backoff_deadlines_on_a_fake_clock() -> None:
    backoff = Backoff(initial=1.0, maximum=4.0, jitter=0.0)
    assert backoff.next_deadline() is None and backoff.handle_timer(0.0)  # first try at once
    backoff.failed(10.0)
    assert backoff.next_deadline() == 11.0
    assert not backoff.handle_timer(10.9)
    assert backoff.handle_timer(11.0) and backoff.next_deadline() is None
    deadlines = []
    for now in (11.0, 13.0, 17.0):  # each failure waits twice as long, up to the maximum
        backoff.failed(now)
        deadlines.append(backoff.next_deadline())
    assert deadlines == [13.0, 17.0, 21.0]
    backoff.reset()  # logged in: no wait pending, and the delays start over
    assert backoff.next_deadline() is None
    backoff.failed(30.0)
    assert backoff.next_deadline() == 31.0


def test_backoff_jitter_stays_within_its_share() -> None:
    backoff = Backoff(initial=10.0, jitter=0.1)
    backoff.failed(0.0)
    assert 9.0 <= (backoff.next_deadline() or 0.0) <= 11.0
