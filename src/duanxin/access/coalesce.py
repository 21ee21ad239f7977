"""One-number SUBMITs of a connection gathered into one send, each still answered alone.

A customer with a window of 16 has up to 16 SUBMITs on the wire, often the same text to
different numbers. Those that arrive in the same event-loop turn (one socket read, as a
rule) with the same key (text and source address) go to the platform as one send of many
numbers; each SUBMIT is then answered with its own outcome, rendered to its own response
PDU. The group is sent at the next turn of the loop, so a lone SUBMIT waits for nothing.

A number already in a group starts a second group with the same key: two SUBMITs to one
number are two messages, and a send of many numbers counts each number once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from duanxin.domain.numbers import MAX_NUMBERS, normalise_mobile
from duanxin.domain.status import Status

__all__ = ["Alike", "Coalescer", "Submitted"]

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Submitted:
    """The platform's answer to one message: its status, and the ids given per segment."""

    status: Status
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Alike:
    """What the SUBMITs of one group share."""

    text: str
    source: str  # the source address (CMPP Src_Id, SMPP source_addr)


#: Sends one group: what its SUBMITs share and their numbers; one outcome per number.
Sender = Callable[[Alike, list[str]], Awaitable[Sequence[Submitted]]]


@dataclass(slots=True)
class _Item(Generic[P]):
    mobile: str
    render: Callable[[Submitted], P]
    answer: asyncio.Future[P]


@dataclass(slots=True)
class _Group(Generic[P]):
    key: Alike
    items: list[_Item[P]] = field(default_factory=list)
    numbers: set[str] = field(default_factory=set)


def same_number(mobile: str) -> str:
    """What two spellings of one number have in common (``+86`` or not)."""
    text = mobile.strip()
    return normalise_mobile(text) or text


class Coalescer(Generic[P]):
    """The groups of one connection waiting for the next loop turn, and those under way."""

    def __init__(self, send: Sender, limit: int = MAX_NUMBERS) -> None:
        self._send = send
        self._limit = limit
        self._loop = asyncio.get_running_loop()
        self._waiting: dict[Alike, list[_Group[P]]] = {}
        self._scheduled = False
        self._running: set[asyncio.Task[None]] = set()

    def add(self, key: Alike, mobile: str, render: Callable[[Submitted], P]) -> asyncio.Future[P]:
        """Send ``mobile`` with this turn's others of ``key``; the future gets ``render`` of
        its outcome (or the send's exception)."""
        answer: asyncio.Future[P] = self._loop.create_future()
        number = same_number(mobile)
        groups = self._waiting.setdefault(key, [])
        group = next(
            (g for g in groups if number not in g.numbers and len(g.items) < self._limit), None
        )
        if group is None:
            group = _Group(key)
            groups.append(group)
        group.items.append(_Item(mobile, render, answer))
        group.numbers.add(number)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)
        return answer

    def cancel(self) -> None:
        """The connection is gone: sends under way stop, waiting ones never start."""
        for groups in self._waiting.values():
            for group in groups:
                for item in group.items:
                    item.answer.cancel()
        self._waiting.clear()
        for task in self._running:
            task.cancel()

    def _flush(self) -> None:
        self._scheduled = False
        waiting, self._waiting = self._waiting, {}
        for groups in waiting.values():
            for group in groups:
                task = self._loop.create_task(self._run(group))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    async def _run(self, group: _Group[P]) -> None:
        items = group.items
        try:
            outcomes = await self._send(group.key, [item.mobile for item in items])
        except asyncio.CancelledError:
            for item in items:
                item.answer.cancel()
            raise
        except Exception as error:
            for item in items:
                if not item.answer.done():
                    item.answer.set_exception(error)
            return
        for item, outcome in zip(items, outcomes, strict=True):
            if item.answer.done():
                continue  # the session gave up on it (closed)
            try:
                item.answer.set_result(item.render(outcome))
            except Exception as error:
                item.answer.set_exception(error)
