"""DelayedCalls: the one-timer report schedule the simulators share."""

from __future__ import annotations

import asyncio
import logging

import pytest

from duanxin.simulator.core import DelayedCalls


async def test_calls_run_after_their_delay_in_due_order() -> None:
    loop = asyncio.get_running_loop()
    calls = DelayedCalls()
    ran: list[tuple[str, float]] = []
    done = asyncio.Event()
    start = loop.time()

    def note(label: str) -> None:
        ran.append((label, loop.time() - start))
        if len(ran) == 3:
            done.set()

    calls.add(0.03, note, "late")
    calls.add(0.01, note, "early")
    calls.add(0.01, note, "early too")
    assert len(calls) == 3
    await asyncio.wait_for(done.wait(), 5)
    assert [label for label, _ in ran] == ["early", "early too", "late"]
    slack = DelayedCalls._SLACK
    assert ran[0][1] >= 0.01 - slack and ran[2][1] >= 0.03 - slack  # never before due
    assert len(calls) == 0


async def test_a_failing_call_is_logged_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = DelayedCalls()
    ran = asyncio.Event()

    def fail() -> None:
        raise RuntimeError("boom")

    calls.add(0.0, fail)
    calls.add(0.0, ran.set)
    with caplog.at_level(logging.ERROR, "duanxin.simulator"):
        await asyncio.wait_for(ran.wait(), 5)
    assert "boom" in caplog.text


async def test_cancel_forgets_pending_calls() -> None:
    calls = DelayedCalls()
    ran: list[int] = []
    after = asyncio.Event()
    calls.add(0.0, ran.append, 1)
    calls.cancel()
    asyncio.get_running_loop().call_later(0.01, after.set)  # later than the cancelled call
    await after.wait()
    assert ran == []
    assert len(calls) == 0
