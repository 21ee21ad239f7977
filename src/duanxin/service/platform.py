"""The composition root: what every service call needs, built once per process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from duanxin.bus import REDIS_SCHEMES, Bus, BusError, open_bus
from duanxin.bus.limits import (
    MemoryLimiter,
    RateLimiter,
    RedisBuckets,
    RedisSlots,
    open_limiter,
)
from duanxin.config import Settings, SettingsError
from duanxin.domain.accounts import Account
from duanxin.domain.msgid import MessageIdGenerator
from duanxin.domain.policy import SendWindow, parse_window
from duanxin.domain.status import Status, StatusError
from duanxin.domain.throttle import TokenBucket
from duanxin.service.cache import TtlCache
from duanxin.service.policy_cache import PolicyCache
from duanxin.store import crypto
from duanxin.store.accounts import KeySecret
from duanxin.store.commits import GroupCommitter
from duanxin.store.engine import create_engine, create_reader
from duanxin.store.prepared import KeptReader
from duanxin.store.tables import access_ids, messages, replies

__all__ = ["SUBMIT_STREAM", "ChannelLive", "Platform", "submit_entries", "use_encryption_key"]

log = logging.getLogger(__name__)

SUBMIT_STREAM = "submit"
SUBMIT_GROUP = "delivery"
API_KEY_CACHE_SECONDS = 30.0
#: Message ids per submit-stream entry: a 500-number request becomes ten entries, so the
#: workers of a cluster share it (each entry goes to one worker).
ENTRY_MIDS = 50


def submit_entries(mids: Sequence[str]) -> list[dict[str, list[str]]]:
    """The submit-stream entries (payloads) that hand ``mids`` to the delivery workers."""
    return [{"mids": list(mids[i : i + ENTRY_MIDS])} for i in range(0, len(mids), ENTRY_MIDS)]


EMBEDDED_NODE = 1  # the node id of a process that is not part of a cluster, unless set


def use_encryption_key(settings: Settings) -> None:
    """Install the settings' key for the store's secrets; there is no default key."""
    if not settings.encryption_key:
        raise SettingsError(
            "bad setting encryption_key (DUANXIN_ENCRYPTION_KEY): required, it encrypts "
            "the stored secrets; make one with `duanxin keygen`"
        )
    crypto.install(settings.encryption_key)


def local_now() -> datetime:
    return datetime.now().replace(microsecond=0)


def _over_tps(tps: int) -> StatusError:
    return StatusError(Status.TOO_MANY_CONNECTIONS, f"over the account's limit of {tps} messages/s")


@dataclass(frozen=True, slots=True)
class ChannelLive:
    """A channel as the delivery worker of this process sees it now."""

    up: bool
    connections_up: int
    connections: int
    in_flight: int  # submits on the wire, unanswered (the window in use)
    rate: float | None  # submits per second it may send now (None: no limit)
    throttling: bool  # the carrier pushed back: the rate is below the channel's TPS


@dataclass
class Platform:
    """Engine, bus, settings, clock and id generator, shared by the service functions.

    Also the policy's shared state: the rate limiter of frequency limits (in-process, or
    Redis when the bus is Redis, so every process of a cluster counts the same hits),
    the cache of compiled policy, and the marketing window.
    """

    settings: Settings
    engine: AsyncEngine
    bus: Bus
    clock: Callable[[], datetime] = local_now
    limiter: RateLimiter = field(default_factory=MemoryLimiter)
    policy: PolicyCache = field(default_factory=PolicyCache)
    ids: MessageIdGenerator = field(init=False)
    marketing_window: SendWindow = field(init=False)
    #: Reads that need not queue behind writes (SQLite's separate read-only pool).
    reader: AsyncEngine = field(init=False)
    #: The sends' lone reads (the blacklist/opt-out check): SQLite's on a kept reader
    #: connection, not a checkout per send.
    lone_reads: KeptReader = field(init=False)
    #: Sends' writes, committed together (group commit).
    commits: GroupCommitter = field(init=False)
    #: Accounts by name, and the carriers each account has routes for.
    accounts: TtlCache[str, Account | None] = field(init=False)
    routed: TtlCache[int, frozenset[str]] = field(init=False)
    #: Whether the number-portability table has any rows (most deployments: none).
    has_overrides: TtlCache[None, bool] = field(init=False)
    #: Requests in flight per account, shared by the cluster (None: this process counts).
    slots: RedisSlots | None = None
    #: Token buckets shared by the cluster: accounts' TPS here, channels' in the workers
    #: (None: each process counts its own).
    buckets: RedisBuckets | None = None
    _own_reader: AsyncEngine | None = None
    _in_flight: dict[int, int] = field(default_factory=dict)
    #: SecretKey, customer and expiry of each SecretId seen (revocations in this process
    #: drop their entry at once).
    api_keys: TtlCache[str, KeySecret | None] = field(
        default_factory=lambda: TtlCache(API_KEY_CACHE_SECONDS)
    )

    #: Set by the delivery worker of this process: channel name -> logged in.
    channel_states: Callable[[], dict[str, bool]] = dict
    #: ... and what the console shows of each: connections, window in use, rate.
    channel_live: Callable[[], dict[str, ChannelLive]] = dict
    #: Accepted and committed messages a send could not publish (the bus was down); the
    #: sweeper publishes them once it answers (another process's sweeper finds them in the
    #: store after its publish grace if this process stops first).
    _unpublished: list[str] = field(default_factory=list)
    #: Sends with the same idempotency key in this process, run one after the other: a
    #: repeat that overtook the first would count its numbers against the frequency limits
    #: again and be refused instead of getting the first answer. (account, key) -> (the
    #: lock, how many sends hold or wait for it).
    same_key: dict[tuple[int, str], tuple[asyncio.Lock, list[int]]] = field(default_factory=dict)
    #: Seconds for rate limits (the account TPS); tests give a fake one.
    monotonic: Callable[[], float] = time.monotonic
    #: Each account's TPS bucket in this process, with the rate it was made for.
    _tps: dict[int, tuple[int, TokenBucket]] = field(default_factory=dict)
    #: Committed messages waiting for the next publish (:meth:`publish_submits`), and it.
    _to_publish: list[str] = field(default_factory=list)
    _publishing: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        use_encryption_key(self.settings)
        self.reader = self._own_reader or self.engine
        self.lone_reads = KeptReader(self.reader, keep=self._own_reader is not None)
        self.commits = GroupCommitter(self.engine)
        ttl = self.settings.account_cache_seconds
        self.accounts, self.routed, self.has_overrides = TtlCache(ttl), TtlCache(ttl), TtlCache(ttl)
        node = self.settings.node_id
        self.ids = MessageIdGenerator(EMBEDDED_NODE if node is None else node)
        self.marketing_window = parse_window(self.settings.marketing_window)
        self.policy.ttl = self.settings.policy_cache_seconds

    @classmethod
    def open(cls, settings: Settings) -> Platform:
        bus = open_bus(settings.bus_url, prefix=settings.redis_prefix)
        limiter = open_limiter(settings.bus_url, prefix=settings.redis_prefix)
        slots = buckets = None
        if settings.bus_url.startswith(REDIS_SCHEMES):
            slots = RedisSlots(settings.bus_url, prefix=settings.redis_prefix)
            buckets = RedisBuckets(settings.bus_url, prefix=settings.redis_prefix)
        return cls(
            settings,
            create_engine(settings.database_url),
            bus,
            limiter=limiter,
            slots=slots,
            buckets=buckets,
            _own_reader=create_reader(settings.database_url),
        )

    async def publish_submits(self, mids: Sequence[str]) -> None:
        """Hand committed messages to delivery. The sends answered by one group commit
        publish together, in one write to the bus, instead of one each (with delivery in
        another process, each write also woke it). The store is the record: with the bus
        down the send is still accepted, and the sweeper publishes the messages once it
        answers."""
        self._to_publish.extend(mids)
        task = self._publishing
        if task is None:
            # It runs after the callbacks already queued: the rest of the batch joins.
            task = self._publishing = asyncio.get_running_loop().create_task(self._publish())
        await asyncio.shield(task)

    async def _publish(self) -> None:
        mids, self._to_publish, self._publishing = self._to_publish, [], None
        try:
            await self.bus.publish(SUBMIT_STREAM, submit_entries(mids))
        except BusError as error:
            log.warning(
                "bus unreachable; %d accepted messages wait in the store: %s", len(mids), error
            )
            self.keep_unpublished(mids)

    def keep_unpublished(self, mids: Sequence[str]) -> None:
        self._unpublished.extend(mids)

    def take_unpublished(self) -> list[str]:
        mids, self._unpublished = self._unpublished, []
        return mids

    def forget_cached(self) -> None:
        """Drop cached accounts and routes (after an operator change in this process)."""
        for cache in (self.accounts, self.routed, self.has_overrides):
            cache.invalidate()

    async def resume_ids(self) -> None:
        """Make sure new ids follow every id already stored (restarts in the same second)."""
        async with self.engine.connect() as conn:
            latest = [
                (await conn.execute(select(func.max(table.c.mid)))).scalar_one_or_none()
                for table in (messages, replies)
            ]
            latest.append(
                (await conn.execute(select(func.max(access_ids.c.given_id)))).scalar_one_or_none()
            )
        now = self.clock()
        for mid in latest:
            if mid:
                self.ids.resume_after(int(mid, 16), now)

    async def close(self) -> None:
        await self.commits.close()
        await self.bus.close()
        await self.limiter.close()
        if self.slots is not None:
            await self.slots.close()
        if self.buckets is not None:
            await self.buckets.close()
        await self.lone_reads.close()
        await self.engine.dispose()
        if self._own_reader is not None:
            await self._own_reader.dispose()

    async def check_tps(self, account_id: int, tps: int) -> None:
        """Count one submission against the account's TPS (0: no limit); raises
        StatusError 21 when it is over (SPEC gives no code of its own for a rate). In a
        cluster one bucket in Redis serves every process; while Redis does not answer,
        each process counts its own."""
        if tps <= 0:
            return
        if self.buckets is not None:
            try:
                grant = await self.buckets.take(f"tps:account:{account_id}", tps, tps)
            except BusError:
                pass  # counted in this process below
            else:
                if not grant.granted:
                    raise _over_tps(tps)
                return
        now = self.monotonic()
        known = self._tps.get(account_id)
        if known is None or known[0] != tps:
            known = self._tps[account_id] = (tps, TokenBucket(tps, now))
        if not known[1].take(now):
            raise _over_tps(tps)

    @asynccontextmanager
    async def request_slot(self, account_id: int, limit: int) -> AsyncIterator[None]:
        """Count a request against the account's concurrency limit (0: unlimited): across
        the cluster with a Redis bus (in this process while Redis does not answer)."""
        if limit and self.slots is not None:
            key = f"inflight:{account_id}"
            try:
                token = await self.slots.take(key, limit, time.time())
            except BusError:
                token = ""  # Redis away: counted in this process below
            if token is None:
                raise StatusError(Status.TOO_MANY_CONNECTIONS)
            if token:
                try:
                    yield
                finally:
                    with contextlib.suppress(BusError):  # else it expires
                        await self.slots.give_back(key, token)
                return
        current = self._in_flight.get(account_id, 0)
        if limit and current >= limit:
            raise StatusError(Status.TOO_MANY_CONNECTIONS)
        self._in_flight[account_id] = current + 1
        try:
            yield
        finally:
            remaining = self._in_flight[account_id] - 1
            if remaining:
                self._in_flight[account_id] = remaining
            else:
                del self._in_flight[account_id]
