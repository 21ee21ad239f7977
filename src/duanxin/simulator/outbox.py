"""What a simulated gateway sends to an SP: reports (and kept MO), due, written, or kept.

:class:`Outbox` is shared by the four simulators. A protocol hands it the items of one
submit (intermediate receipts, acknowledgements, the final report) and a ``send`` function
that writes one item on a suitable link of an account, or returns None when no such link is
up. The outbox

* writes them after ``report_delay`` (or at once, for ``early-reports``), in order;
* writes every report twice for ``duplicate-reports``;
* keeps, per account and in order, what could not be written, or what was written on a link
  that closed before answering, as carrier gateways do, and writes it again when
  :meth:`flush` is called for that account (a suitable link logged in);
* counts what it wrote on the :class:`~duanxin.simulator.core.CarrierBehaviour`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from duanxin.protocols.core.aio import ResponseTimeout, SessionClosed
from duanxin.protocols.core.errors import ProtocolError
from duanxin.simulator.core import CarrierBehaviour, DelayedCalls

__all__ = ["Kind", "Outbox", "respond_late"]

log = logging.getLogger("duanxin.simulator")

T = TypeVar("T")
R = TypeVar("R")

#: At most this long a submit response waits for its early report to be answered.
EARLY_REPORT_WAIT = 2.0


class Kind(Enum):
    """What an outgoing item is, for counting and duplicating."""

    FINAL = "final"  # the final status report
    INTERMEDIATE = "intermediate"  # ENROUTE / State 1
    ACK = "ack"  # SMPP SME acknowledgement or intermediate notification
    MO = "mo"  # a reply from a handset


_REPORTS = (Kind.FINAL, Kind.INTERMEDIATE)


@dataclass(frozen=True, slots=True)
class _Due(Generic[T]):
    kind: Kind
    item: T
    copy: bool = False  # a duplicate-reports copy


Send = Callable[[str | None, T], "asyncio.Future[Any] | None"]


class Outbox(Generic[T]):
    """Items on their way to an account's links (see the module docstring)."""

    def __init__(self, behaviour: CarrierBehaviour, send: Send[T]) -> None:
        self._behaviour = behaviour
        self._send = send
        self._calls = DelayedCalls()
        self._kept: dict[str | None, deque[_Due[T]]] = {}

    def __len__(self) -> int:
        """Items scheduled and not yet due."""
        return len(self._calls)

    def kept(self, account: str | None = None) -> int:
        """Items kept for ``account`` (None: for every account)."""
        if account is None:
            return sum(len(queue) for queue in self._kept.values())
        return len(self._kept.get(account, ()))

    def plan(self, account: str | None, items: Sequence[tuple[Kind, T]]) -> None:
        """Write ``items`` for ``account`` after the configured report delay."""
        if items:
            self._calls.add(self._behaviour.config.report_delay, self._write_due, account, items)

    def send_now(
        self, account: str | None, items: Sequence[tuple[Kind, T]]
    ) -> list[asyncio.Future[Any]]:
        """Write ``items`` at once; the answers of those written (for early reports)."""
        return self._write_all(account, items)

    def flush(self, account: str | None) -> None:
        """A link for ``account`` is up: write what was kept for it, in order."""
        queue = self._kept.pop(account, None)
        if not queue:
            return
        while queue:
            due = queue.popleft()
            if self._write(account, due, replay=True) is None:
                queue.appendleft(due)  # still no link: keep the rest, in order
                self._kept[account] = queue
                return

    def flush_later(self, account: str | None) -> None:
        """:meth:`flush` once the current handler's answer (a login response) is out."""
        asyncio.get_running_loop().call_soon(self.flush, account)

    def cancel(self) -> None:
        """Forget everything scheduled and kept (the simulator stops)."""
        self._calls.cancel()
        self._kept.clear()

    # ------------------------------------------------------------------ writing

    def _write_due(self, account: str | None, items: Sequence[tuple[Kind, T]]) -> None:
        self._write_all(account, items)

    def _write_all(
        self, account: str | None, items: Iterable[tuple[Kind, T]]
    ) -> list[asyncio.Future[Any]]:
        twice = self._behaviour.faults.duplicate_reports
        answers: list[asyncio.Future[Any]] = []
        for kind, item in items:
            copies = [_Due(kind, item)]
            if twice and kind in _REPORTS:
                copies.append(_Due(kind, item, copy=True))
            for due in copies:
                answer = self._write(account, due)
                if answer is not None:
                    answers.append(answer)
        return answers

    def _write(
        self, account: str | None, due: _Due[T], *, replay: bool = False
    ) -> asyncio.Future[Any] | None:
        queue = self._kept.get(account)
        if queue and not replay:  # older items go first: keep the order
            queue.append(due)
            self._behaviour.kept += 1
            self.flush(account)
            return None
        answer = self._send(account, due.item)
        if answer is None:
            if not replay:
                self._kept.setdefault(account, deque()).append(due)
                self._behaviour.kept += 1
            return None
        self._count(due, replay)
        answer.add_done_callback(lambda answer: self._answered(account, due, answer))
        return answer

    def _count(self, due: _Due[T], replay: bool) -> None:
        behaviour = self._behaviour
        if replay:
            behaviour.replayed += 1
        if due.kind is Kind.FINAL:
            behaviour.reports_sent += 1
        elif due.kind is Kind.INTERMEDIATE:
            behaviour.intermediate_reports += 1
        elif due.kind is Kind.ACK:
            behaviour.acks_sent += 1
        if due.copy:
            behaviour.duplicate_reports += 1

    def _answered(self, account: str | None, due: _Due[T], answer: asyncio.Future[Any]) -> None:
        if answer.cancelled():
            return
        error = answer.exception()
        if isinstance(error, SessionClosed):
            # Written but never answered: a gateway sends it again on the next link.
            self._kept.setdefault(account, deque()).append(due)
            self._behaviour.kept += 1
            self.flush_later(account)  # another link of the account may be up
        elif isinstance(error, ResponseTimeout | ProtocolError | OSError):
            log.info("%s for %r not answered: %s", due.kind.value, account, error)
        elif error is not None:
            log.error("%s for %r failed", due.kind.value, account, exc_info=error)


async def respond_late(response: R, early: Sequence[asyncio.Future[Any]], slow: float) -> R:
    """``response``, once the ``early`` reports are answered and ``slow`` seconds passed."""
    if early:
        await asyncio.wait(early, timeout=EARLY_REPORT_WAIT)
    if slow > 0:
        await asyncio.sleep(slow)
    return response


class _Late(Generic[R]):
    """:func:`respond_late`, made only when awaited: a session that closes before it gets
    to it leaves no coroutine behind that was never awaited."""

    __slots__ = ("_early", "_response", "_slow")

    def __init__(self, response: R, early: Sequence[asyncio.Future[Any]], slow: float) -> None:
        self._response, self._early, self._slow = response, early, slow

    def __await__(self) -> Generator[Any, None, R]:
        return respond_late(self._response, self._early, self._slow).__await__()


def late_or_now(response: R, early: Sequence[asyncio.Future[Any]], slow: float) -> Awaitable[R] | R:
    """The response itself when nothing delays it (no task per submit), else an awaitable."""
    if not early and slow <= 0:
        return response
    return _Late(response, early, slow)
