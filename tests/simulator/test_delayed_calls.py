"""DelayedCalls: the one-timer report schedule the simulators share."""

from __future__ import annotations

import asyncio
import logging

import pytest

from duanxin.simulator.core import DelayedCalls


async def test_calls_run_after_their_delay_in_due_order() -> None:
    calls = DelayedCalls()
    ran: list[str] = []
    calls.add(0.03, ran.append, "late")
    calls.add(0.01, ran.append, "early")
    calls.add(0.01, ran.append, "early too")
    assert len(calls) == 3
    await asyncio.sleep(0.005)
    assert ran == []
    await asyncio.sleep(0.02)
    assert ran == ["early", "early too"]
    await asyncio.sleep(0.02)
    assert ran == ["early", "early too", "late"]
    assert len(calls) == 0


async def test_a_failing_call_is_logged_and_the_rest_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = DelayedCalls()
    ran: list[int] = []

    def fail() -> None:
        raise RuntimeError("boom")

    calls.add(0.0, fail)
    calls.add(0.0, ran.append, 1)
    with caplog.at_level(logging.ERROR, "duanxin.simulator"):
        await asyncio.sleep(0.01)
    assert ran == [1]
    assert "boom" in caplog.text


async def test_cancel_forgets_pending_calls() -> None:
    calls = DelayedCalls()
    ran: list[int] = []
    calls.add(0.0, ran.append, 1)
    calls.cancel()
    await asyncio.sleep(0.01)
    assert ran == []
    assert len(calls) == 0
