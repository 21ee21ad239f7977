"""Sequence numbers with wraparound, stamping them into PDUs, and reconnect back-off."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar, cast

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = ["Backoff", "SequenceCounter", "with_field", "with_fields"]

T = TypeVar("T")
_Copier = Callable[..., object]  # (obj, *new values of the names)
_copiers: dict[tuple[type, tuple[str, ...]], _Copier] = {}


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


def with_field(obj: T, name: str, value: object) -> T:
    """``dataclasses.replace(obj, **{name: value})``, several times faster for PDUs.

    Sessions stamp a sequence number into every request they send, so this runs once per
    PDU. For a frozen, slotted dataclass with neither ``__post_init__`` nor ``init=False``
    fields (every PDU class), the copy is made field by field through the slot descriptors,
    skipping the generated ``__init__``; anything else goes through ``dataclasses.replace``.
    """
    return cast(T, _copier(type(obj), (name,))(obj, value))


def with_fields(obj: T, **changes: object) -> T:
    """:func:`with_field` for several fields at once (a PDU made from a template)."""
    return cast(T, _copier(type(obj), tuple(changes))(obj, *changes.values()))


def _copier(cls: type, names: tuple[str, ...]) -> _Copier:
    key = (cls, names)
    copier = _copiers.get(key)
    if copier is None:
        copier = _copiers[key] = _make_copier(cls, names)
    return copier


def _make_copier(cls: type, changed: tuple[str, ...]) -> _Copier:
    fields = dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ()
    names = [f.name for f in fields]
    slots: set[str] = set()
    for klass in cls.__mro__:
        declared = getattr(klass, "__slots__", ())
        slots.update((declared,) if isinstance(declared, str) else declared)
    if (
        not set(changed) <= set(names)
        or hasattr(cls, "__post_init__")
        or any(not f.init for f in fields)
        or "__dict__" in slots
        or not set(names) <= slots
    ):

        def replace(obj: object, *values: object) -> object:
            return dataclasses.replace(
                cast("DataclassInstance", obj), **dict(zip(changed, values, strict=True))
            )

        return replace
    # One straight-line function per class and fields, as dataclasses builds __init__.
    namespace: dict[str, object] = {"_new": object.__new__, "_cls": cls}
    arguments = [f"value{index}" for index in range(len(changed))]
    lines = [f"def copy(obj, {', '.join(arguments)}):", "    new = _new(_cls)"]
    for index, field_name in enumerate(names):
        namespace[f"_set{index}"] = getattr(cls, field_name).__set__
        source = (
            arguments[changed.index(field_name)] if field_name in changed else f"obj.{field_name}"
        )
        lines.append(f"    _set{index}(new, {source})")
    lines.append("    return new")
    exec("\n".join(lines), namespace)
    return cast(_Copier, namespace["copy"])


@dataclass(slots=True)
class Backoff:
    """Exponential reconnect delays with jitter: 0.5, 1, 2, 4 ... capped at ``maximum``.

    Sans-IO like the session core: :meth:`failed` at time ``now`` sets the deadline of the
    next attempt, which the caller arms one timer for (:meth:`next_deadline`) and confirms
    with :meth:`handle_timer`.
    """

    initial: float = 0.5
    maximum: float = 30.0
    factor: float = 2.0
    jitter: float = 0.1
    _attempt: int = field(default=0, init=False)
    _deadline: float | None = field(default=None, init=False)

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * self.factor**self._attempt)
        self._attempt += 1
        return delay * (1 + random.uniform(-self.jitter, self.jitter))

    def failed(self, now: float) -> None:
        """An attempt failed (or a link was lost) at ``now``: the next waits its delay."""
        self._deadline = now + self.next_delay()

    def next_deadline(self) -> float | None:
        """When the next attempt is due; None when one may be made at once."""
        return self._deadline

    def handle_timer(self, now: float) -> bool:
        """Whether the next attempt is due at ``now`` (the deadline is then spent)."""
        if self._deadline is not None and now < self._deadline:
            return False
        self._deadline = None
        return True

    def reset(self) -> None:
        """Logged in: the next failure waits the initial delay again."""
        self._attempt = 0
        self._deadline = None
