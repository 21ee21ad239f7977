"""A connection's one-number SUBMITs gathered for one call, each still answered alone.

A customer with a window of 16 has up to 16 SUBMITs on the wire, often the same text to
different numbers. Those that arrive in the same event-loop turn (one socket read, as a
rule) go to the platform together (:func:`duanxin.service.send.send_each`, which accepts
those with the same text as one send); each SUBMIT is then answered with its own
outcome, rendered to its own response PDU. The turn's SUBMITs go at the next turn of the
loop, so a lone SUBMIT waits for nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from duanxin.domain.status import Status

__all__ = ["Coalescer", "Submitted"]

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Submitted:
    """The platform's answer to one message: its status, and the ids given per segment."""

    status: Status
    ids: tuple[str, ...]


#: Sends a turn's messages, ``(mobile, text)`` in arrival order; one outcome each.
Sender = Callable[[list[tuple[str, str]]], Awaitable[Sequence[Submitted]]]


@dataclass(slots=True)
class _Item(Generic[P]):
    message: tuple[str, str]
    render: Callable[[Submitted], P]
    answer: asyncio.Future[P]


class Coalescer(Generic[P]):
    """The SUBMITs of one connection waiting for the next loop turn, and those under way."""

    def __init__(self, send: Sender) -> None:
        self._send = send
        self._loop = asyncio.get_running_loop()
        self._waiting: list[_Item[P]] = []
        self._running: set[asyncio.Task[None]] = set()

    def add(self, mobile: str, text: str, render: Callable[[Submitted], P]) -> asyncio.Future[P]:
        """Send ``text`` to ``mobile`` with this turn's others; the future gets ``render``
        of its outcome (or the send's exception)."""
        answer: asyncio.Future[P] = self._loop.create_future()
        if not self._waiting:
            self._loop.call_soon(self._flush)
        self._waiting.append(_Item((mobile, text), render, answer))
        return answer

    def drop(self) -> None:
        """The connection is gone: SUBMITs not yet sent never will be (those under way
        finish, so that what is committed is also handed to delivery)."""
        for item in self._waiting:
            item.answer.cancel()
        self._waiting = []

    async def finished(self) -> None:
        """Once the sends under way are done."""
        while self._running:
            await asyncio.gather(*self._running, return_exceptions=True)

    def _flush(self) -> None:
        items, self._waiting = self._waiting, []
        if items:
            task = self._loop.create_task(self._run(items))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, items: list[_Item[P]]) -> None:
        try:
            outcomes = await self._send([item.message for item in items])
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
