"""``duanxin bench stats``: how long a statistics query takes over a year of counters.

A fresh SQLite store gets a year of counter rows (every hour and every day, for each of
``accounts`` x 3 carriers x ``channels``), as :mod:`duanxin.store.stats` keeps them; then
the customer's question (its account, per day and carrier, a year) and the operator's
(every account, per day, channel and account, a year) are asked ``repeat`` times each.
"""

from __future__ import annotations

import asyncio
import statistics as stats_math
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import insert

from duanxin.bench import machine_summary, run
from duanxin.config import Settings
from duanxin.service.platform import Platform
from duanxin.service.stats import Grain, statistics
from duanxin.store import stats as stats_store
from duanxin.store.engine import migrate
from duanxin.store.tables import stats as stats_table

__all__ = ["run_stats"]

CARRIERS = ("cmcc", "cucc", "ctcc")
DAYS = 365


async def _fill(platform: Platform, accounts: int, channels: int, end: datetime) -> int:
    rows = 0
    base = dict.fromkeys(stats_store.COUNTERS, 1)
    async with platform.engine.begin() as conn:
        for day in range(DAYS):
            start = end - timedelta(days=DAYS - day)
            batch = []
            for account in range(1, accounts + 1):
                for carrier in CARRIERS:
                    for channel in range(1, channels + 1):
                        key = {"account_id": account, "carrier": carrier, "channel_id": channel}
                        batch.append({"grain": "d", "period": start, **key, **base})
                        for hour in range(24):
                            period = start + timedelta(hours=hour)
                            batch.append({"grain": "h", "period": period, **key, **base})
            await conn.execute(insert(stats_table), batch)
            rows += len(batch)
    return rows


async def _time(coroutine_factory: object, repeat: int) -> tuple[float, float]:
    assert callable(coroutine_factory)
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        await coroutine_factory()
        samples.append((time.perf_counter() - began) * 1000)
    return stats_math.median(samples), max(samples)


async def _measure(
    accounts: int, channels: int, repeat: int
) -> tuple[int, list[tuple[str, int, float, float]]]:
    with tempfile.TemporaryDirectory(prefix="duanxin-bench-stats-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'stats.db'}"
        await asyncio.to_thread(migrate, url)
        platform = Platform.open(Settings(database_url=url))
        try:
            end = datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)
            rows = await _fill(platform, accounts, channels, end)
            since = end - timedelta(days=DAYS)
            results = []
            questions = (
                ("customer: 1 account, per day x carrier, a year", 1, ("carrier",)),
                (
                    "operator: all accounts, per day x channel x account",
                    None,
                    ("channel", "account"),
                ),
            )
            for name, account_id, by in questions:
                lines = await statistics(
                    platform, grain=Grain.DAY, since=since, until=end, by=by, account_id=account_id
                )

                async def ask(a: int | None = account_id, b: tuple[str, ...] = by) -> object:
                    return await statistics(
                        platform, grain=Grain.DAY, since=since, until=end, by=b, account_id=a
                    )

                p50, most = await _time(ask, repeat)
                results.append((name, len(lines), p50, most))
            return rows, results
        finally:
            await platform.close()


def run_stats(accounts: int, channels: int, repeat: int, console: Console) -> None:
    rows, results = run(_measure(accounts, channels, repeat))
    table = Table("question", "lines", "median ms", "max ms")
    for name, lines, p50, most in results:
        table.add_row(name, str(lines), f"{p50:.1f}", f"{most:.1f}")
    console.print(table)
    console.print(
        f"{rows:,} counter rows (a year of hours and days, {accounts} accounts x 3 carriers "
        f"x {channels} channels), SQLite; {machine_summary()}",
        highlight=False,
    )
