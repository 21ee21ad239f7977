"""Carrier channels as live connections, and the routing table over them."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.encoding import Alphabet
from duanxin.domain.reports import LongReport
from duanxin.domain.throttle import AdaptiveRate
from duanxin.metrics import CHANNEL_RATE, SUBMITS_RETRIED, SUBMITS_THROTTLED
from duanxin.protocols.carrier import CarrierClient, ChannelSettings, Inbound
from duanxin.store import crypto
from duanxin.store.tables import accounts, channels, routes

__all__ = ["Channel", "ChannelPool", "RetryPolicy", "open_carrier_client"]

log = logging.getLogger(__name__)
PROTOCOLS = ("cmpp", "sgip", "smgp", "smpp")


def open_carrier_client(
    protocol: str, settings: ChannelSettings, on_inbound: Callable[[Inbound], Any]
) -> CarrierClient:
    """A client for ``protocol`` (one of :data:`PROTOCOLS`)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}")
    module = importlib.import_module(f"duanxin.protocols.{protocol}")
    client: CarrierClient = module.open_client(settings, on_inbound)
    return client


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a channel retries a submit that met a transient outcome (channel ``settings``).

    ``retry_attempts``: tries of one message on this channel before it fails over to the
    next; ``retry_backoff`` / ``retry_backoff_max``: the wait before the second try,
    doubling up to the maximum (seconds); ``retry_window``: how long a message waits for
    this channel to take it again (its turn at the channel's lowered rate included) before
    it fails over all the same (seconds).
    """

    attempts: int = 8
    backoff: float = 0.1
    backoff_max: float = 5.0
    window: float = 60.0

    @classmethod
    def from_settings(cls, settings: dict[str, Any] | None) -> RetryPolicy:
        extra = settings or {}
        default = cls()
        return cls(
            attempts=max(1, int(extra.get("retry_attempts", default.attempts))),
            backoff=float(extra.get("retry_backoff", default.backoff)),
            backoff_max=float(extra.get("retry_backoff_max", default.backoff_max)),
            window=float(extra.get("retry_window", default.window)),
        )


@dataclass
class Channel:
    """One configured carrier gateway, reached over one or more connections."""

    id: int
    name: str
    protocol: str
    access_code: str
    long_report: LongReport
    clients: list[CarrierClient]
    # The channel's send rate, shared by its connections: its TPS, lowered while the
    # carrier throttles.
    rate: AdaptiveRate = field(default_factory=lambda: AdaptiveRate(None, 0.0))
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    _next: int = 0
    # Senders waiting for a token, first come first served; one timer wakes the first.
    _waiters: deque[asyncio.Future[None]] = field(default_factory=deque)
    _timer: asyncio.TimerHandle | None = None

    @property
    def is_up(self) -> bool:
        return any(client.is_up for client in self.clients)

    def pick(self) -> CarrierClient:
        """The next logged-in connection, round robin (the first one when none is up)."""
        count = len(self.clients)
        for step in range(count):
            client = self.clients[(self._next + step) % count]
            if client.is_up:
                self._next = (self._next + step + 1) % count
                return client
        return self.clients[0]

    def take_token(self, now: float) -> bool:
        """A token now, unless others are already waiting for one (they go first)."""
        return not self._waiters and self.rate.take(now)

    def expected_wait(self, now: float) -> float:
        """Seconds until a new waiter would get a token."""
        rate = self.rate.rate
        queued = len(self._waiters) / rate if rate else 0.0
        return self.rate.wait_time(now) + queued

    async def wait_token(self, timeout: float | None = None) -> bool:
        """Wait for a token, in turn; False if none came within ``timeout`` seconds."""
        loop = asyncio.get_running_loop()
        if self.take_token(loop.time()):
            return True
        waiter: asyncio.Future[None] = loop.create_future()
        self._waiters.append(waiter)
        self._arm(loop)
        try:
            async with asyncio.timeout(timeout):
                await waiter
        except TimeoutError:
            return False
        finally:
            if not waiter.done():
                waiter.cancel()
            if waiter.cancelled():  # gave up (or was cancelled): out of the queue
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
        return True

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is None and self._waiters:
            delay = max(0.001, self.rate.wait_time(loop.time()))
            self._timer = loop.call_later(delay, self._hand_out)

    def _hand_out(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        waiters = self._waiters
        while waiters:
            if waiters[0].done():  # gave up waiting
                waiters.popleft()
                continue
            if not self.rate.take(loop.time()):
                break
            waiters.popleft().set_result(None)
        self._arm(loop)


def settings_from_row(row: Any) -> ChannelSettings:
    extra = dict(row["settings"] or {})
    return ChannelSettings(
        host=row["host"],
        port=row["port"],
        account=row["account"],
        password=crypto.reveal(row["password"]),
        access_code=row["access_code"],
        service_id=row["service_id"],
        sp_code=row["sp_code"],
        version=row["version"],
        window=row["window"],
        response_timeout=float(extra.pop("response_timeout", 30.0)),
        heartbeat_interval=float(extra.pop("heartbeat_interval", 180.0)),
        alphabet=Alphabet(extra.pop("alphabet", Alphabet.ASCII)),
        extra=extra,
    )


@dataclass
class ChannelPool:
    """Every enabled channel, connected; routes per account and carrier."""

    on_inbound: Callable[[Channel, Inbound], Any]
    channels: dict[int, Channel] = field(default_factory=dict)
    _routes: dict[tuple[int, str], list[int]] = field(default_factory=dict)
    _reply_prefixes: list[tuple[str, int]] = field(default_factory=list)

    async def load(self, conn: AsyncConnection) -> None:
        """Open clients for channels not yet open; refresh routes and reply prefixes."""
        loop = asyncio.get_running_loop()
        rows = (await conn.execute(select(channels).where(channels.c.enabled.is_(True)))).mappings()
        for row in rows:
            if row["id"] in self.channels:
                continue
            channel = self._open(row, loop.time())
            self.channels[channel.id] = channel
            for client in channel.clients:
                await client.start()
        route_rows = await conn.execute(
            select(routes.c.account_id, routes.c.carrier, routes.c.channel_id).order_by(
                routes.c.priority, routes.c.id
            )
        )
        table: dict[tuple[int, str], list[int]] = {}
        for account_id, carrier, channel_id in route_rows:
            table.setdefault((account_id, carrier), []).append(channel_id)
        self._routes = table
        await self._load_reply_prefixes(conn)

    def _open(self, row: Any, now: float) -> Channel:
        channel_id = row["id"]
        holder: list[Channel] = []

        def deliver(inbound: Inbound) -> Any:
            return self.on_inbound(holder[0], inbound)

        settings = settings_from_row(row)
        # SGIP's gateway connects back to one listener of ours: one connection per channel.
        count = 1 if row["protocol"] == "sgip" else max(1, row["max_connections"])
        clients = [open_carrier_client(row["protocol"], settings, deliver) for _ in range(count)]
        channel = Channel(
            id=channel_id,
            name=row["name"],
            protocol=row["protocol"],
            access_code=row["access_code"],
            long_report=LongReport(row["long_report"]),
            clients=clients,
            rate=AdaptiveRate(row["tps"] or None, now),
            retry=RetryPolicy.from_settings(row["settings"]),
        )
        holder.append(channel)
        rate = channel.rate
        SUBMITS_THROTTLED.labels(channel.name)  # shown (as 0) from the start
        SUBMITS_RETRIED.labels(channel.name)
        CHANNEL_RATE.labels(channel.name).set_function(
            lambda: math.inf if rate.rate is None else rate.rate
        )
        return channel

    async def _load_reply_prefixes(self, conn: AsyncConnection) -> None:
        rows = await conn.execute(
            select(routes.c.account_id, accounts.c.extno, channels.c.access_code)
            .join(accounts, accounts.c.id == routes.c.account_id)
            .join(channels, channels.c.id == routes.c.channel_id)
            .distinct()
        )
        self._reply_prefixes = [(code + extno, account_id) for account_id, extno, code in rows]

    @property
    def reply_prefixes(self) -> list[tuple[str, int]]:
        return self._reply_prefixes

    def route(self, account_id: int, carrier: str) -> list[Channel]:
        """The account's channels for ``carrier``, in order of preference."""
        ids = self._routes.get((account_id, carrier), [])
        return [self.channels[i] for i in ids if i in self.channels]

    async def close(self) -> None:
        await asyncio.gather(
            *(client.close() for c in self.channels.values() for client in c.clients)
        )
        self.channels.clear()
