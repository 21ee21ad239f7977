"""Write-behind batching: many results, one transaction.

Producers add items and may await the returned future, which resolves once the batch that
holds the item is committed (a carrier's DELIVER is answered only then). One flusher task
writes batches in arrival order, so a submit's carrier ids are stored before a report that
arrived after them is matched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["WriteBehind"]

T = TypeVar("T")
log = logging.getLogger(__name__)


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
                    await self._write([item for item, _ in batch])
                except Exception as error:
                    log.exception("batch write failed")
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)

    async def stop(self) -> None:
        if self._task is not None:
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
