"""``duanxin bench throttled``: a channel configured for more than its carrier takes.

A CMPP simulator accepts ``carrier_tps`` submits a second and answers the rest with Result 8
(flow control); the platform's channel is configured for ``channel_tps``. ``messages``
numbers go in through the HTTP API in 500-number requests. Counted: delivered, failed
(should be 0), duplicates at the handset (should be 0), throttled answers, and the rate at
which the carrier accepted them (the aim: close to ``carrier_tps``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import tempfile
import time
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, update

from duanxin.client import AsyncClient
from duanxin.config import Settings
from duanxin.demo import CarrierEndpoint, demo_credentials, provision
from duanxin.runtime import running_platform
from duanxin.service.platform import Platform
from duanxin.simulator.cmpp import CmppSimulator
from duanxin.simulator.core import SimulatorConfig
from duanxin.store.crypto import generate_key
from duanxin.store.engine import migrate
from duanxin.store.tables import channels, reports

__all__ = ["ThrottledFigures", "run_throttled", "throttled_run"]

BATCH = 500
CONTENT = "【duanxin】您的订单已发货，请注意查收。"
POLL_SECONDS = 0.2


@dataclasses.dataclass(frozen=True, slots=True)
class ThrottledFigures:
    messages: int
    delivered: int
    failed: int
    duplicates: int
    throttled: int
    seconds: float  # from the first accepted submit to the last
    rate: float  # accepted submits per second over that time

    @property
    def stats(self) -> str:
        return f"{self.delivered} DELIVRD, {self.failed} other"


async def throttled_run(
    messages: int, carrier_tps: float, channel_tps: int, *, timeout: float = 600.0
) -> ThrottledFigures:
    """Send ``messages`` through a throttling carrier; wait for every report."""
    with tempfile.TemporaryDirectory(prefix="duanxin-bench-") as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        secrets_key = generate_key()  # a throwaway database: a throwaway key
        await asyncio.to_thread(migrate, url, secrets_key)
        account, password = demo_credentials("cmpp")
        simulator = CmppSimulator(
            SimulatorConfig(account=account, password=password, tps=carrier_tps, report_delay=0.5)
        )
        await simulator.start()
        try:
            setup = Platform.open(Settings(database_url=url, encryption_key=secrets_key))
            try:
                endpoint = CarrierEndpoint("127.0.0.1", simulator.port, account, password)
                key, login, secret = await provision(setup, {"cmpp": endpoint})
                async with setup.engine.begin() as conn:
                    await conn.execute(update(channels).values(tps=channel_tps))
            finally:
                await setup.close()
            settings = Settings(
                database_url=url, host="127.0.0.1", port=0, encryption_key=secrets_key
            )
            async with running_platform(settings) as running:
                numbers = [f"138{i:08d}" for i in range(messages)]
                async with AsyncClient(
                    running.url, key.secret_id, key.secret_key, login, secret
                ) as client:
                    for start in range(0, messages, BATCH):
                        result = await client.send(numbers[start : start + BATCH], CONTENT)
                        if not result.ok:
                            raise RuntimeError(f"send refused: {result}")
                engine = running.platform.engine
                deadline = time.monotonic() + timeout
                while True:
                    async with engine.connect() as conn:
                        done = (
                            await conn.execute(select(func.count()).select_from(reports))
                        ).scalar_one()
                    if done >= messages or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(POLL_SECONDS)
                async with engine.connect() as conn:
                    stats = Counter(row[0] for row in await conn.execute(select(reports.c.stat)))
        finally:
            behaviour = simulator.behaviour
            await simulator.stop()
    received = behaviour.received
    copies = Counter(m.destination for m in received)
    times = sorted(m.received_at for m in received)
    seconds = (times[-1] - times[0]).total_seconds() if len(times) > 1 else 0.0
    delivered = stats.get("DELIVRD", 0)
    return ThrottledFigures(
        messages=messages,
        delivered=delivered,
        failed=sum(stats.values()) - delivered + (messages - sum(stats.values())),
        duplicates=sum(n - 1 for n in copies.values()),
        throttled=behaviour.throttled,
        seconds=seconds,
        rate=(len(received) - 1) / seconds if seconds > 0 else 0.0,
    )


def run_throttled(messages: int, carrier_tps: float, channel_tps: int, console: Console) -> None:
    figures = asyncio.run(throttled_run(messages, carrier_tps, channel_tps))
    table = Table(title=f"throttled carrier: {carrier_tps:g}/s, channel set for {channel_tps}/s")
    for column in ("messages", "delivered", "failed", "duplicates", "throttled", "rate/s"):
        table.add_column(column, justify="right")
    table.add_row(
        str(figures.messages),
        str(figures.delivered),
        str(figures.failed),
        str(figures.duplicates),
        str(figures.throttled),
        f"{figures.rate:,.1f} ({figures.rate / carrier_tps:.0%} of {carrier_tps:g})",
    )
    console.print(table)
