"""``duanxin bench console``: how long the operator dashboard and a message search take
over a store holding many days of messages (the dashboard's reads are bounded by the
index on ``messages.created_at``; without it each is a scan of the whole table)."""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from duanxin.config import Settings
from duanxin.domain.status import DELIVERED
from duanxin.service import admin, message_search, overview
from duanxin.service.message_search import MessageQuery
from duanxin.service.platform import Platform
from duanxin.store import messages as message_store
from duanxin.store.engine import migrate

__all__ = ["ConsoleFigures", "measure_console", "run_console"]

CARRIERS = ("cmcc", "cucc", "ctcc")
INSERT_BATCH = 5000
REPEATS = 5
DELIVERED_SHARE = 0.9
SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class ConsoleFigures:
    messages: int
    today: int
    dashboard_ms: float  # dashboard + health, median of REPEATS
    search_ms: float  # the newest 100 of one number


def _rows(account_id: int, channel_id: int, count: int, days: float, now: datetime) -> list[Any]:
    generator = random.Random(1)
    times = sorted(
        now - timedelta(seconds=generator.random() * days * SECONDS_PER_DAY) for _ in range(count)
    )
    rows = []
    for index, at in enumerate(times):
        done = generator.random() < DELIVERED_SHARE
        rows.append(
            {
                "mid": f"{index:016X}",
                "account_id": account_id,
                "mobile": f"138{generator.randrange(10**8):08d}",
                "carrier": generator.choice(CARRIERS),
                "content": "【bench】x",
                "extno": "",
                "segments": 1,
                "charged": 1,
                "state": "done" if done else "submitted",
                "not_before": None,
                "stat": DELIVERED if done else None,
                "created_at": at,
                "channel_id": channel_id,
                "submitted_at": at,
                "done_at": at + timedelta(seconds=2) if done else None,
            }
        )
    return rows


async def measure_console(database_url: str, count: int, days: float) -> ConsoleFigures:
    """Fill a fresh store with ``count`` messages over ``days``; time the console's reads."""
    await asyncio.to_thread(migrate, database_url)
    platform = Platform.open(Settings(database_url=database_url))
    try:
        customer = await admin.create_customer(platform, "bench")
        account = await admin.create_account(
            platform, customer, admin.AccountSpec("bench", "pw", "1")
        )
        channel = await admin.add_channel(
            platform, admin.ChannelSpec("bench", "cmpp", "127.0.0.1", 1, "a", "p", "1")
        )
        rows = _rows(account, channel, count, days, platform.clock())
        for start in range(0, count, INSERT_BATCH):
            async with platform.engine.begin() as conn:
                await message_store.insert_messages(conn, rows[start : start + INSERT_BATCH])
        timings = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            board = await overview.dashboard(platform)
            await overview.health(platform)
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        await message_search.find_messages(platform, MessageQuery(mobile=str(rows[-1]["mobile"])))
        search = time.perf_counter() - started
    finally:
        await platform.close()
    return ConsoleFigures(
        count, board.total.submitted, statistics.median(timings) * 1000, search * 1000
    )


def run_console(count: int, days: float, database_url: str | None, out: Console) -> None:
    """Measure on ``database_url`` (a fresh, empty database) or a temporary SQLite file."""
    with tempfile.TemporaryDirectory() as folder:
        url = database_url or f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        figures = asyncio.run(measure_console(url, count, days))
    out.print(
        f"{figures.messages} messages over {days:g} days ({figures.today} today): "
        f"dashboard {figures.dashboard_ms:.1f} ms, search by number {figures.search_ms:.1f} ms"
    )
