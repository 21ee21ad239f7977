"""``duanxin bench access`` runs briefly and counts (no timing assertions)."""

from __future__ import annotations

from duanxin.bench.access import drive
from tests.access.conftest import address
from tests.conftest import Stack


async def test_bench_access_gets_every_report_back(stack: Stack) -> None:
    run = await drive(*address(stack, "cmpp"), stack.facts.account, stack.facts.password,
                       messages=40, window=16, timeout=30.0)  # fmt: skip
    assert run.accepted == 40 and run.refused == 0
    assert run.reports == 40 and run.missing == 0 and run.duplicates == 0
