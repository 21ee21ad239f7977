"""Write-behind batching: many results, one transaction.

Producers add items and may await the returned future, which resolves once the batch that
holds the item is committed (a carrier's DELIVER is answered only then). One flusher task
writes batches in arrival order, so a submit's carrier ids are stored before a report that
arrived after them is matched.

A batch whose write fails for the connection's sake (PostgreSQL restarted, the connection
ended by an administrator or a proxy, the network) is written again, on a new connection,
with growing pauses for up to :data:`RETRY_SECONDS`: its transaction was rolled back, so
writing it again is writing it once, and nothing a carrier was told is lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
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
    """Collects items and hands them to ``write`` in batches of at most ``max_batch``."""

    def __init__(
        self,
        write: Callable[[Sequence[T]], Awaitable[None]],
        *,
        max_batch: int = 500,
        linger: float = 0.005,
    ) -> None:
        self._write = write
        self._max_batch = max_batch
        self._linger = linger
        self._items: list[tuple[T, asyncio.Future[None]]] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def add(self, item: T) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._items.append((item, future))
        self._ready.set()
        return future

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def flush(self) -> None:
        """Write everything added so far."""
        async with self._lock:
            while self._items:
                batch, self._items = self._items[: self._max_batch], self._items[self._max_batch :]
                try:
                    await self._write_again_while_transient([item for item, _ in batch])
                except Exception as error:
                    log.exception("batch write failed")
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

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
        while True:
            await self._ready.wait()
            self._ready.clear()
            if len(self._items) < self._max_batch:
                await asyncio.sleep(self._linger)
            await self.flush()
