"""Carrier channels as live connections, and the routing table over them.

In a cluster (:class:`~duanxin.cluster.connections.ConnectionLeases` given) a worker opens
only the connections whose slots it leased, so a channel's ``max_connections`` holds
across every worker; the leases are renewed, and free slots taken, every few seconds.
A channel's TPS is then one token bucket in Redis that every worker takes from, whichever
holds the work; each worker's own adaptive rate still follows what the carrier accepts
from its connections (the carrier's flow control), and while Redis is out of reach a
worker keeps to the share of the TPS its connections are of the channel's.
"""

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

from duanxin.bus import BusError
from duanxin.bus.limits import RedisBuckets
from duanxin.cluster.connections import ConnectionLeases
from duanxin.cluster.leases import RENEW_SECONDS
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
#: A worker takes at most this many seconds' worth of a channel's TPS from the shared
#: bucket in one call (20 calls a second at full rate; the workers interleave finely).
SHARED_BATCH_SECONDS = 0.05
#: After the shared bucket failed to answer: how long a worker keeps to its share alone
#: before it asks again.
ALONE_SECONDS = 1.0
#: How long closing a connection may take (its logout waits up to 5 s for the gateway's
#: answer) before its task is cancelled; how long a cancelled task has before it is
#: cancelled again.
CLOSE_SECONDS = 10.0
CANCEL_AGAIN_SECONDS = 1.0


async def cancel_until_done(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait for its end, cancelling it again should it go on.

    Python 3.11's ``asyncio.wait_for`` swallows a cancellation that arrives as the awaited
    answer does (a login answered at that moment): the task goes on as if never cancelled,
    and a stop that waited for it would wait for ever.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=CANCEL_AGAIN_SECONDS)


async def close_client(client: CarrierClient) -> None:
    """Log a connection out and stop its reconnecting, whatever it is doing: a close still
    waiting after ``CLOSE_SECONDS`` (for a reconnect loop that swallowed its cancellation,
    see :func:`cancel_until_done`) is cancelled, which cancels that loop again."""
    closing = asyncio.ensure_future(client.close())
    await asyncio.wait([closing], timeout=CLOSE_SECONDS)
    await cancel_until_done(closing)
    if not closing.cancelled():
        closing.result()  # its error, if it failed


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
    #: Opens a new (not started) client for a connection slot.
    factory: Callable[[], CarrierClient] | None = None
    #: The connection slots this process holds (all of them outside a cluster); whether
    #: another worker holds any of this channel's slots.
    held: frozenset[int] = frozenset()
    elsewhere: bool = False
    #: The channel's configured TPS (0: none).
    tps: int = 0
    #: In a cluster: the bucket of the channel's TPS that every worker takes its tokens
    #: from (None: this process's rate alone), and the share of the channel's connections
    #: this worker holds (its rate while that bucket is out of reach).
    shared: RedisBuckets | None = None
    share: float = 1.0
    _credit: int = 0  # tokens taken from the shared bucket, not yet handed out
    _fetching: asyncio.Task[None] | None = None
    _alone_until: float = -math.inf  # counting alone (Redis away) until then
    _alone_since_warned: bool = False
    _stopped: bool = False
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

    def set_share(self, share: float) -> None:
        """The share of the channel's connections this worker holds, now."""
        self.share = share
        self._apply_ceiling()

    def _sharing(self, now: float) -> bool:
        """Whether tokens come from the cluster's bucket now (a TPS, Redis answering)."""
        if self.shared is None or not self.tps or now < self._alone_until:
            return False
        if self._alone_until != -math.inf:  # time to ask the shared bucket again
            self._alone_until = -math.inf
            self._apply_ceiling()
        return True

    def _apply_ceiling(self) -> None:
        # The shared bucket keeps the workers together to the channel's TPS; this rate
        # then limits only what the carrier's flow control asks of this worker. Alone
        # (no bucket in reach), a worker keeps to its share of the TPS.
        if not self.tps:
            return
        alone = self.shared is None or self._alone_until != -math.inf
        self.rate.set_ceiling(self.tps * self.share if alone else self.tps)

    def take_token(self, now: float) -> bool:
        """A token now, unless others are already waiting for one (they go first)."""
        if self._waiters:
            return False
        if not self._sharing(now):
            return self.rate.take(now)
        if self._credit and self.rate.take(now):
            self._credit -= 1
            return True
        return False

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
        if not self._waiters or self._stopped:
            return
        if self._sharing(loop.time()):
            if self._fetching is None:
                self._fetching = loop.create_task(self._fetch_tokens())
        elif self._timer is None:
            delay = max(0.001, self.rate.wait_time(loop.time()))
            self._timer = loop.call_later(delay, self._hand_out)

    def _hand_out(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
        if self._sharing(loop.time()):  # the shared bucket is back
            self._arm(loop)
            return
        waiters = self._waiters
        while waiters:
            if waiters[0].done():  # gave up waiting
                waiters.popleft()
                continue
            if not self.rate.take(loop.time()):
                break
            waiters.popleft().set_result(None)
        self._arm(loop)

    async def _fetch_tokens(self) -> None:
        """While senders wait: tokens from the shared bucket (as many as wait, up to a
        twentieth of a second's worth in one call), each handed out once this worker's
        own rate allows it too."""
        loop = asyncio.get_running_loop()
        try:
            while self._live_waiters():
                local_wait = self.rate.wait_time(loop.time())
                if local_wait > 0:
                    await asyncio.sleep(local_wait)
                    continue
                if not self._credit:
                    wait = await self._take_shared(loop)
                    if wait is None:
                        return  # alone now: the timer hands tokens out
                    if wait:
                        await asyncio.sleep(wait)
                        continue
                self._hand_out_credit(loop.time())
        finally:
            self._fetching = None
            self._arm(loop)  # waiters left: counting alone now, or a sender came late

    async def _take_shared(self, loop: asyncio.AbstractEventLoop) -> float | None:
        """One call to the shared bucket: 0 when tokens came, else the seconds until the
        next; None when it did not answer (this worker keeps to its share for a while)."""
        assert self.shared is not None
        want = min(self._live_waiters(), max(1, int(self.tps * SHARED_BATCH_SECONDS)))
        try:
            grant = await self.shared.take(
                f"tps:channel:{self.id}", self.tps, self.tps * AdaptiveRate.BURST, want
            )
        except Exception as error:  # BusError, or a bug: never strand the senders
            if not self._alone_since_warned:
                log.warning(
                    "channel %s: shared TPS out of reach, keeping to this worker's share: %s",
                    self.name,
                    error,
                )
            self._alone_since_warned = True
            self._alone_until = loop.time() + ALONE_SECONDS
            self._apply_ceiling()
            return None
        if self._alone_since_warned:
            log.warning("channel %s: shared TPS reachable again", self.name)
            self._alone_since_warned = False
        self._credit += grant.granted
        return 0.0 if grant.granted else max(0.001, grant.wait)

    def _live_waiters(self) -> int:
        waiters = self._waiters
        while waiters and waiters[0].done():
            waiters.popleft()
        return len(waiters)

    def _hand_out_credit(self, now: float) -> None:
        while self._credit and self._live_waiters() and self.rate.take(now):
            self._credit -= 1
            self._waiters.popleft().set_result(None)

    def stop_fetching(self) -> None:
        self._stopped = True
        if self._fetching is not None:
            self._fetching.cancel()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


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
    #: Connection leases of a cluster worker (None: this process opens every connection).
    leases: ConnectionLeases | None = None
    #: ... and the cluster's token buckets, one per channel's TPS.
    buckets: RedisBuckets | None = None
    _leasing: asyncio.Task[None] | None = None
    #: One lease round at a time: the lease loop's and a reload's would otherwise both act
    #: on the same slots between their awaits (a slot opened twice, a fresh client closed).
    _lease_round: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def load(self, conn: AsyncConnection) -> None:
        """Open clients for channels not yet open; refresh routes and reply prefixes."""
        loop = asyncio.get_running_loop()
        rows = (await conn.execute(select(channels).where(channels.c.enabled.is_(True)))).mappings()
        for row in rows:
            if row["id"] in self.channels:
                continue
            channel = self._open(row, loop.time())
            self.channels[channel.id] = channel
            if self.leases is None:
                channel.held = frozenset(range(len(channel.clients)))
                for client in channel.clients:
                    await client.start()
        if self.leases is not None:
            await self.refresh_leases()
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

        def factory() -> CarrierClient:
            return open_carrier_client(row["protocol"], settings, deliver)

        clients = [factory() for _ in range(count)]
        channel = Channel(
            id=channel_id,
            name=row["name"],
            protocol=row["protocol"],
            access_code=row["access_code"],
            long_report=LongReport(row["long_report"]),
            clients=clients,
            rate=AdaptiveRate(row["tps"] or None, now),
            tps=row["tps"] or 0,
            retry=RetryPolicy.from_settings(row["settings"]),
            factory=factory,
            shared=self.buckets if self.leases is not None else None,
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

    async def refresh_leases(self) -> None:
        """One lease round: renew the slots held, open connections for slots taken, close
        those of slots lost (a lease that ran out while Redis was away)."""
        if self.leases is None:
            return
        async with self._lease_round:
            await self._lease_round_of(self.leases)

    async def _lease_round_of(self, leases: ConnectionLeases) -> None:
        workers = await leases.live_workers()
        for channel in list(self.channels.values()):
            plan = await leases.plan(channel.id, len(channel.clients), workers)
            for slot in sorted(channel.held - plan.held):
                log.info("channel %s: connection %d handed to another worker", channel.name, slot)
                old = channel.clients[slot]
                if channel.factory is not None:
                    channel.clients[slot] = channel.factory()
                await close_client(old)
            for slot in sorted(plan.held - channel.held):
                await channel.clients[slot].start()
            channel.held, channel.elsewhere = plan.held, plan.elsewhere
            channel.set_share(max(1, len(plan.held)) / len(channel.clients))

    def start_leasing(self) -> None:
        """Renew leases and take free slots every few seconds (a cluster worker)."""
        if self.leases is not None and self._leasing is None:
            self._leasing = asyncio.get_running_loop().create_task(self._lease_forever())

    async def _lease_forever(self) -> None:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                await self.refresh_leases()
            except BusError as error:
                log.warning("connection leases not renewed: %s", error)
            except Exception:
                log.exception("connection lease round failed")

    async def close(self) -> None:
        if self._leasing is not None:
            await cancel_until_done(self._leasing)
            self._leasing = None
        for channel in self.channels.values():
            channel.stop_fetching()
        await asyncio.gather(
            *(close_client(client) for c in self.channels.values() for client in c.clients)
        )
        self.channels.clear()
        if self.leases is not None:
            with contextlib.suppress(BusError):
                await self.leases.release_all()
                await self.leases.leave()
