"""The delivery worker's consumer loop is supervised: a bus error does not end it.

A failing read of the submit stream is logged once for the outage, retried with back-off,
logged again when work flows, and messages are delivered after it.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from duanxin.bus.base import BusError
from tests.conftest import Stack, until
from tests.e2e.helpers import assert_send_ok, collect_reports, send_form

FAILED_READS = 2
WORKER_LOG = "duanxin.delivery.worker"
WAIT = 15.0  # two failed reads, their back-off (0.5 s, 1 s) and a blocking read of 1 s


async def test_a_failing_bus_read_is_retried_and_messages_go_out_after_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    worker = stack.running.worker
    assert worker is not None
    bus = worker.platform.bus
    real_consume = bus.consume
    reads = 0

    async def flaky_consume(*args: Any, **kwargs: Any) -> Any:
        nonlocal reads
        reads += 1
        if reads <= FAILED_READS:
            raise BusError("bus unavailable")
        return await real_consume(*args, **kwargs)

    caplog.set_level(logging.WARNING, logger=WORKER_LOG)

    def said() -> list[str]:
        return [r.getMessage() for r in caplog.records if r.name == WORKER_LOG]

    monkeypatch.setattr(bus, "consume", flaky_consume)
    await until(lambda: "delivery takes work again" in said(), timeout=WAIT)
    assert reads > FAILED_READS  # it read again after the failures
    assert sum("cannot take work" in m for m in said()) == 1  # once per outage

    items = assert_send_ok(await send_form(stack, {"mobile": "13800138000", "content": "x"}))
    mid = items[0]["mid"]
    reports = await collect_reports(stack, [mid])
    assert reports[mid][0]["stat"] == "DELIVRD"
