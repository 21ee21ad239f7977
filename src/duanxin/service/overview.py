"""The operator's dashboard: today's traffic, the last hour's rates, the system's health.

Every figure is counted from the store (messages as accepted, handed to carriers and
reported) or read from this process's delivery worker (channels' links and rates).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from duanxin.bus import BusError
from duanxin.service.platform import ChannelLive, Platform
from duanxin.service.readiness import CHECK_TIMEOUT_SECONDS
from duanxin.store import overview as overview_store
from duanxin.store.overview import ErrorRow

__all__ = ["ChannelHealth", "Dashboard", "Health", "Tally", "dashboard", "health"]

SERIES_MINUTES = 60
DELAY_SAMPLE = 1000  # latest reports the mean report delay is taken over
RECENT_ERRORS = 20
SECONDS_PER_MINUTE = 60


@dataclass(frozen=True, slots=True)
class Tally:
    submitted: int = 0  # accepted by the API (one per number)
    delivered: int = 0
    failed: int = 0
    pending: int = 0  # no final report yet

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.submitted + other.submitted,
            self.delivered + other.delivered,
            self.failed + other.failed,
            self.pending + other.pending,
        )

    @property
    def delivery_rate(self) -> float | None:
        """Delivered of those with a final report (None: none yet)."""
        final = self.delivered + self.failed
        return self.delivered / final if final else None


@dataclass(frozen=True, slots=True)
class Dashboard:
    since: datetime
    total: Tally
    by_carrier: list[tuple[str, Tally]]
    by_channel: list[tuple[str | None, Tally]]
    #: Mean seconds from the carrier's acceptance to the report, over the latest
    #: ``report_delay_sample`` messages accepted today that have their report.
    report_delay_seconds: float | None
    report_delay_sample: int
    minutes: list[str]  # "HH:MM", oldest first
    accepted_tps: list[float]  # per minute: accepted / 60
    submitted_tps: list[float]  # per minute: handed to carriers / 60
    errors: list[ErrorRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    name: str
    protocol: str
    enabled: bool
    tps: int
    window: int
    max_connections: int
    live: ChannelLive | None  # None: no delivery worker for it in this process


@dataclass(frozen=True, slots=True)
class Health:
    database_error: str | None
    bus_error: str | None
    delivery_here: bool  # this process runs delivery (the channels' live state is known)
    channels: list[ChannelHealth]


def _start_of_day(now: datetime) -> datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


async def dashboard(platform: Platform) -> Dashboard:
    """Today's traffic by carrier and channel, and the last hour's rates per minute."""
    now = platform.clock()
    today = _start_of_day(now)
    first_minute = now.replace(second=0, microsecond=0) - timedelta(minutes=SERIES_MINUTES - 1)
    async with platform.reader.connect() as conn:
        rows = await overview_store.counts_since(conn, today)
        accepted = await overview_store.per_minute(conn, first_minute, "created_at", first_minute)
        # A message handed over in the last hour was accepted within its validity before.
        oldest = first_minute - timedelta(seconds=platform.settings.submit_validity_seconds)
        submitted = await overview_store.per_minute(conn, first_minute, "submitted_at", oldest)
        delays = await overview_store.report_delays(conn, today, DELAY_SAMPLE)
        errors = await overview_store.recent_errors(conn, RECENT_ERRORS)
    by_carrier: dict[str, Tally] = defaultdict(Tally)
    by_channel: dict[str | None, Tally] = defaultdict(Tally)
    for row in rows:
        tally = Tally(row.submitted, row.delivered, row.failed, row.pending)
        by_carrier[row.carrier] += tally
        by_channel[row.channel] += tally
    total = sum(by_carrier.values(), Tally())
    keys = [
        (first_minute + timedelta(minutes=i)).strftime("%Y-%m-%d %H:%M")
        for i in range(SERIES_MINUTES)
    ]
    seconds = [(done - sent).total_seconds() for sent, done in delays]
    return Dashboard(
        since=today,
        total=total,
        by_carrier=sorted(by_carrier.items()),
        by_channel=sorted(by_channel.items(), key=lambda item: item[0] or ""),
        report_delay_seconds=sum(seconds) / len(seconds) if seconds else None,
        report_delay_sample=len(seconds),
        minutes=[key[-5:] for key in keys],
        accepted_tps=[accepted.get(k, 0) / SECONDS_PER_MINUTE for k in keys],
        submitted_tps=[submitted.get(k, 0) / SECONDS_PER_MINUTE for k in keys],
        errors=errors,
    )


async def _database_error(platform: Platform) -> tuple[str | None, list[Any]]:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS), platform.reader.connect() as conn:
            await overview_store.ping(conn)
            rows = await overview_store.channel_rows(conn)
    except Exception as error:  # whatever the driver raises: the answer is "unreachable"
        return f"{type(error).__name__}: {error}", []
    return None, rows


async def health(platform: Platform) -> Health:
    """Database, bus, and each configured channel with what this process knows of it."""
    database_error, rows = await _database_error(platform)
    bus_error = None
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_SECONDS):
            await platform.bus.ping()
    except (BusError, TimeoutError) as error:
        bus_error = f"{type(error).__name__}: {error}"
    live = platform.channel_live()
    return Health(
        database_error=database_error,
        bus_error=bus_error,
        delivery_here=platform.settings.role in ("all", "worker"),
        channels=[
            ChannelHealth(
                name=row["name"],
                protocol=row["protocol"],
                enabled=bool(row["enabled"]),
                tps=int(row["tps"]),
                window=int(row["window"]),
                max_connections=int(row["max_connections"]),
                live=live.get(row["name"]),
            )
            for row in rows
        ],
    )
