"""Group commit: many callers' writes in one transaction, each answered after the commit.

SQLite has one writer; a transaction per HTTP request makes every request wait for every
other request's commit. Here concurrent jobs queue, and one task runs them back to back in
a shared transaction and commits once; each caller's future resolves only after that
commit, so a response still goes out only once its rows are durable.

A job may refuse (raise any exception) before it writes; other exceptions mid-job are
handled by running the batch again without the failing job, so one bad job never takes
the others' writes with it, nor leaves half of its own.

A job may also leave a write to its batch (:class:`Later`, such as its counters): the batch
writes what its jobs left once for all of them, after the last job. Should that write
fail, the batch runs again with each job writing its own share, so that a failure is
again one job's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from duanxin.store import prepared

__all__ = ["GroupCommitter", "Job", "Later", "Refusal"]

T = TypeVar("T")
P = TypeVar("P")
S = TypeVar("S")
log = logging.getLogger(__name__)
Job = Callable[[AsyncConnection], Awaitable[T]]


@dataclass(frozen=True, slots=True)
class Later(Generic[P]):
    """A write a job leaves to its batch: ``write`` runs once per batch, after its jobs,
    with the ``payload`` of each job that committed (in their order)."""

    write: Callable[[AsyncConnection, list[P]], Awaitable[None]]
    payload: P


@dataclass(slots=True)
class _Pending(Generic[T]):
    job: Job[T]
    future: asyncio.Future[T]
    later: Sequence[Later[Any]]
    outcome: tuple[bool, Any] | None = field(default=None)  # (ok, result or exception)


class _Tried(NamedTuple):
    culprit: _Pending[Any] | None  # the job that failed mid-write
    usable: bool  # the connection can go on
    later_failed: bool = False  # the batch's write of what its jobs left


_DONE = _Tried(None, usable=True)


class GroupCommitter:
    """Runs write jobs in shared transactions, at most ``max_batch`` jobs per commit."""

    def __init__(self, engine: AsyncEngine, *, max_batch: int = 64) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: list[_Pending[Any]] = []
        self._runner: asyncio.Task[None] | None = None
        self._shared: dict[Callable[[], Any], Any] = {}

    async def run(self, job: Job[T], *, later: Sequence[Later[Any]] = ()) -> T:
        """Run ``job`` in the next group transaction and, if it succeeds, what it leaves
        ``later`` with its batch's; return the job's result once committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(job, future, later))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._drain())
        return await future

    def shared(self, make: Callable[[], S]) -> S:
        """The one ``make()`` the jobs of the batch being tried share (for a job to call
        while it runs): made at the first call, dropped whenever a batch is tried anew."""
        found = self._shared.get(make)
        if found is None:
            found = self._shared[make] = make()
        return found

    async def close(self) -> None:
        if self._runner is not None:
            await asyncio.gather(self._runner, return_exceptions=True)

    async def _drain(self) -> None:
        while self._queue:
            # Each batch one transaction begun and committed on the driver itself
            # (store.prepared), not through SQLAlchemy's engine.begin(), whose bookkeeping
            # cost more than the BEGIN, the statements and the COMMIT together. One
            # checkout per batch: the pool is shared with the other writers (on SQLite
            # one connection), who must get their turn while sends keep coming.
            conn = self._engine.connect()
            try:
                await conn.start()
            except Exception as error:  # no connection: the next batch fails with it
                for item in self._take():
                    item.future.set_exception(error)
                continue
            try:
                await self._commit(conn, self._take())
            finally:
                await conn.close()

    def _take(self) -> list[_Pending[Any]]:
        batch, self._queue = self._queue[: self._max_batch], self._queue[self._max_batch :]
        return batch

    async def _commit(self, conn: AsyncConnection, batch: list[_Pending[Any]]) -> None:
        """Commit what ``batch`` can; if ``conn`` is lost, the rest go again on another."""
        pending = list(batch)
        together = True  # what the jobs leave written once for all
        while pending:
            culprit, usable, later_failed = await self._try(conn, pending, together=together)
            if culprit is None and not later_failed:
                break
            if culprit is not None:
                pending.remove(culprit)
            for item in pending:
                item.outcome = None
            if not usable:  # the others go again first, on another connection
                self._queue[:0] = pending
                break
            together = together and not later_failed  # then each writes its own share
        for item in batch:
            if item.future.done() or item.outcome is None:
                continue
            ok, value = item.outcome
            if ok:
                item.future.set_result(value)
            else:
                item.future.set_exception(value)

    async def _try(
        self, conn: AsyncConnection, pending: list[_Pending[Any]], *, together: bool
    ) -> _Tried:
        """One transaction over ``pending``."""
        current: _Pending[Any] | None = None
        writing_later = False
        self._shared.clear()
        try:
            await prepared.begin(conn)
            for item in pending:
                current = item
                item.outcome = await self._attempt(item, conn, together=together)
            current = None
            if together:
                writing_later = True
                await _write_later(conn, pending)
                writing_later = False
            await prepared.commit(conn)
        except Exception as error:
            usable = await _rolled_back(conn)
            if writing_later:
                return _Tried(None, usable, later_failed=True)
            if current is None:  # BEGIN or COMMIT failed: every job fails with it
                for item in pending:
                    item.outcome = (False, error)
                return _Tried(None, usable)
            current.outcome = (False, error)  # answered after the others commit
            return _Tried(current, usable)
        return _DONE

    @staticmethod
    async def _attempt(
        item: _Pending[Any], conn: AsyncConnection, *, together: bool
    ) -> tuple[bool, Any]:
        try:
            result = await item.job(conn)
        except Refusal as refusal:
            return False, refusal.error
        if not together:
            for later in item.later:
                await later.write(conn, [later.payload])
        return True, result


async def _write_later(conn: AsyncConnection, pending: list[_Pending[Any]]) -> None:
    """Write what the jobs that succeeded left, once per kind of write."""
    payloads: dict[Callable[[AsyncConnection, list[Any]], Awaitable[None]], list[Any]] = {}
    for item in pending:
        if item.outcome is not None and item.outcome[0]:
            for later in item.later:
                payloads.setdefault(later.write, []).append(later.payload)
    for write, batch in payloads.items():
        await write(conn, batch)


async def _rolled_back(conn: AsyncConnection) -> bool:
    """Roll back after a failure; False if the connection is lost (or the rollback failed:
    then it is dropped)."""
    try:
        await prepared.rollback(conn)
    except Exception:
        log.warning("group commit: rollback failed; connection dropped", exc_info=True)
        await conn.invalidate()
        return False
    return not conn.invalidated  # SQLAlchemy saw it disconnect


class Refusal(Exception):
    """Raised by a job that refuses before writing anything; ``error`` goes to its caller."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error
