"""Write-behind batches: a write that fails for the connection's sake is written again;
one that fails for its data fails its producers at once."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from duanxin.delivery.batch import WriteBehind, is_transient


class ConnectionEnded(Exception):
    pass


async def test_a_batch_failing_on_its_connection_is_written_again() -> None:
    written: list[list[int]] = []
    failures = [OperationalError("INSERT", {}, ConnectionEnded("terminated")), OSError("reset")]

    async def write(items: Sequence[int]) -> None:
        if failures:
            raise failures.pop(0)
        written.append(list(items))

    batches = WriteBehind(write)
    done = [batches.add(1), batches.add(2)]
    await batches.flush()
    assert [f.result() for f in done] == [None, None]
    assert written == [[1, 2]]  # once, after the two failed tries


async def test_a_batch_failing_on_its_data_fails_at_once() -> None:
    tries = 0

    async def write(items: Sequence[int]) -> None:
        nonlocal tries
        tries += 1
        raise IntegrityError("INSERT", {}, ConnectionEnded("duplicate key"))

    batches = WriteBehind(write)
    done = batches.add(1)
    await batches.flush()
    with pytest.raises(IntegrityError):
        done.result()
    assert tries == 1
    assert not is_transient(ValueError("bad"))


async def test_stop_lets_a_batch_being_written_finish() -> None:
    """A worker stopping while the flusher writes a batch (submit results that came in as
    the links closed) stores that batch too: stop() does not cut the write short."""
    writing, go_on = asyncio.Event(), asyncio.Event()
    written: list[list[int]] = []

    async def write(items: Sequence[int]) -> None:
        writing.set()
        await go_on.wait()  # a slow commit
        written.append(list(items))

    batches = WriteBehind(write)
    batches.start()
    done = batches.add(1)
    await writing.wait()  # the flusher took the batch and is writing it
    stopping = asyncio.ensure_future(batches.stop())
    await asyncio.sleep(0)  # stop() takes its first step, with the write under way
    go_on.set()
    await asyncio.wait_for(stopping, 5)
    assert written == [[1]]
    assert done.done() and done.result() is None
