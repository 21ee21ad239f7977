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


async def test_a_mixed_batch_failing_on_one_kinds_data_fails_only_that_kind() -> None:
    """Items of several kinds share a transaction; when it fails for one kind's data, the
    others are written again on their own and their producers see success."""
    written: list[list[str]] = []

    async def write(items: Sequence[str]) -> None:
        if "bad" in items:
            raise IntegrityError("INSERT", {}, ConnectionEnded("duplicate key"))
        written.append(list(items))

    batches = WriteBehind(write, kind=lambda item: item.startswith("b"))
    good, bad, other = batches.add("a1"), batches.add("bad"), batches.add("a2")
    await batches.flush()
    assert good.result() is None and other.result() is None
    with pytest.raises(IntegrityError):
        bad.result()
    assert written == [["a1", "a2"]]  # the good kind once, alone, after the mixed batch


async def test_an_urgent_item_is_written_without_the_linger() -> None:
    """A claim waits for its write: it cuts the linger short and takes along what came
    before it. (The linger is an hour here: only the urgent item can end it.)"""
    written: list[list[int]] = []

    async def write(items: Sequence[int]) -> None:
        written.append(list(items))

    batches = WriteBehind(write, linger=3600.0)
    batches.start()
    try:
        first = batches.add(1)
        await asyncio.sleep(0)  # the flusher starts lingering
        await asyncio.wait_for(batches.add(2, urgent=True), 5)
        assert first.done()
        assert written == [[1, 2]]
    finally:
        await batches.stop()
