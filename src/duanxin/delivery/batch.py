"""Write-behind batching: many results, one transaction.

Producers add items and may await the returned future, which resolves once the batch that
holds the item is committed (a carrier's DELIVER is answered only then). One flusher task
writes batches in arrival order, so a submit's carrier ids are stored before a report that
arrived after them is matched. The flusher waits ``linger`` after the first item of a
batch so that more join it, except for an item added as ``urgent`` (someone waits on it to
go on: a claim), which is written at once with whatever else has arrived.

A batch may hold items of several kinds written in one transaction (``kind`` tells them
apart): if that transaction fails for its data, each kind is written again alone, so that
only the producers of the kind at fault see the error.

A batch whose write fails for the connection's sake (PostgreSQL restarted, the connection
ended by an administrator or a proxy, the network) is written again, on a new connection,
with growing pauses for up to :data:`RETRY_SECONDS`: its transaction was rolled back, so
writing it again is writing it once, and nothing a carrier was told is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

from sqlalchemy.exc import DBAPIError, InterfaceError, InternalError, OperationalError

__all__ = ["RETRY_SECONDS", "WriteBehind", "is_transient"]

T = TypeVar("T")
log = logging.getLogger(__name__)
RETRY_SECONDS = 30.0  # how long a batch is tried again before its producers see the error
FIRST_PAUSE, LONGEST_PAUSE = 0.05, 2.0


def is_transient(error: BaseException) -> bool:
    """Whether a failed write may succeed on a new connection (the connection, not the
    data, was at fault)."""
    if isinstance(error, OSError):
        return True
    if isinstance(error, DBAPIError):
        return error.connection_invalidated or isinstance(
            error, OperationalError | InterfaceError | InternalError
        )
    return False


class WriteBehind(Generic[T]):
    """Collects items and hands them to ``write`` in batches of at most ``max_batch``;
    ``kind`` (if given) names each item's kind: the kinds of a batch that failed for its
    data are written again one by one."""

    def __init__(
        self,
        write: Callable[[Sequence[T]], Awaitable[None]],
        *,
        max_batch: int = 500,
        linger: float = 0.005,
        kind: Callable[[T], Hashable] | None = None,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._linger = linger
        self._kind = kind
        self._items: list[tuple[T, asyncio.Future[None]]] = []
        self._ready = asyncio.Event()
        self._wake: asyncio.Future[None] | None = None  # the linger under way
        self._urgent = False  # an urgent item waits: no linger
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def add(self, item: T, *, urgent: bool = False) -> asyncio.Future[None]:
        """Queue ``item``; the future resolves once its batch is committed. ``urgent``:
        cut the flusher's linger short (the caller waits for the write to go on)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._items.append((item, future))
        self._ready.set()
        if urgent:
            self._urgent = True
            if self._wake is not None and not self._wake.done():
                self._wake.set_result(None)
        return future

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def flush(self) -> None:
        """Write everything added so far."""
        async with self._lock:
            while self._items:
                self._urgent = False
                batch, self._items = self._items[: self._max_batch], self._items[self._max_batch :]
                try:
                    await self._write_again_while_transient([item for item, _ in batch])
                except Exception as error:
                    await self._write_kinds_alone(batch, error)
                    continue
                _settle(batch, None)

    async def _write_kinds_alone(
        self, batch: list[tuple[T, asyncio.Future[None]]], error: Exception
    ) -> None:
        """After a mixed batch failed for its data: each kind on its own, so that one kind
        at fault does not fail the producers of the others."""
        kinds: dict[Hashable, list[tuple[T, asyncio.Future[None]]]] = {}
        if self._kind is not None:
            for pair in batch:
                kinds.setdefault(self._kind(pair[0]), []).append(pair)
        if len(kinds) < 2:
            log.exception("batch write failed", exc_info=error)
            _settle(batch, error)
            return
        for part in kinds.values():
            try:
                await self._write_again_while_transient([item for item, _ in part])
            except Exception as alone:
                log.exception("batch write failed", exc_info=alone)
                _settle(part, alone)
                continue
            _settle(part, None)

    async def _write_again_while_transient(self, items: list[T]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETRY_SECONDS
        pause = FIRST_PAUSE
        while True:
            try:
                await self._write(items)
                return
            except Exception as error:
                if not is_transient(error) or loop.time() + pause > deadline:
                    raise
                reason = (str(error).splitlines() or [type(error).__name__])[0]
                log.warning("batch write failed, writing it again in %.2fs: %s", pause, reason)
            await asyncio.sleep(pause)
            pause = min(LONGEST_PAUSE, pause * 2)

    async def stop(self) -> None:
        """Stop the flusher, then write what is left. A batch the flusher is writing is
        finished first (under the lock): cut short, its items would be lost."""
        if self._task is not None:
            async with self._lock:
                self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        await self.flush()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._ready.wait()
            self._ready.clear()
            if len(self._items) < self._max_batch and not self._urgent:
                await self._linger_a_while(loop)
            await self.flush()

    async def _linger_a_while(self, loop: asyncio.AbstractEventLoop) -> None:
        """Wait ``linger`` for more items, or less if an urgent one comes."""
        wake = self._wake = loop.create_future()
        timer = loop.call_later(self._linger, _wake_up, wake)
        try:
            await wake
        finally:
            timer.cancel()
            self._wake = None


def _wake_up(wake: asyncio.Future[None]) -> None:
    if not wake.done():
        wake.set_result(None)


def _settle(batch: Sequence[tuple[object, asyncio.Future[None]]], error: Exception | None) -> None:
    for _, future in batch:
        if future.done():
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
