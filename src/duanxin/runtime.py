"""Running the platform in one process: store, delivery, sweeper and the HTTP server.

With a Redis bus the process is one node of a cluster (:mod:`duanxin.cluster`): it leases
its node id before minting any message id, and its delivery worker leases the carrier
connections it opens.

In the embedded mode on a SQLite file, the process that runs delivery holds the
database's delivery lock and listens on its local socket (:mod:`duanxin.bus.local`); a
process that serves the API without delivery (``role api``, or ``role all`` with the
``delivery_process`` setting, which starts the delivery child of
:mod:`duanxin.delivery.process`) hands accepted messages to it there.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import signal
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import uvicorn
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from duanxin.access import AccessConfig, AccessServers
from duanxin.api.app import create_app
from duanxin.api.server import http_server, metrics_server
from duanxin.bus import REDIS_SCHEMES, BusError, MemoryBus
from duanxin.bus.local import (
    DeliveryLock,
    DeliveryLockHeld,
    LocalBus,
    LocalListener,
    LocalPaths,
    local_paths,
)
from duanxin.cluster.connections import ConnectionLeases
from duanxin.cluster.leases import Leases, new_token
from duanxin.cluster.node import NodeIdTaken, NodeLease
from duanxin.config import Settings
from duanxin.delivery.process import DeliveryChild, DeliveryGaveUp
from duanxin.delivery.push import PushWorker
from duanxin.delivery.sweeper import Sweeper
from duanxin.delivery.worker import DeliveryWorker, StartupError
from duanxin.domain.msgid import MessageIdGenerator
from duanxin.service.platform import (
    SUBMIT_STREAM,
    ChannelLive,
    Platform,
    submit_entries,
    use_encryption_key,
)
from duanxin.store import messages as message_store
from duanxin.store.engine import checkpoint_periodically, is_sqlite, migrate

__all__ = [
    "DeliveryGaveUp",
    "RunningPlatform",
    "StartupError",
    "free_port",
    "run_until_stopped",
    "running_platform",
    "stop_signals",
]

log = logging.getLogger(__name__)
CHECKPOINT_SECONDS = 0.25
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # what systemd, containers and Ctrl-C send
# The cyclic collector's young-generation threshold while the platform runs. At Python's
# 700, the objects of the messages in flight (PDUs, futures, rows of a batch) pass it
# every few dozen messages, each pass traverses them, and the survivors move on to the
# older generations and full passes over the whole heap: measured 125 µs of CPU per
# message in `bench access`, against 2 µs at 10,000 with the startup heap frozen.
GC_YOUNG_THRESHOLD = 10_000


@contextlib.contextmanager
def collector_tuned() -> Iterator[None]:
    """While the block runs: what exists now (modules, the schema, SQLAlchemy's caches)
    left out of the cyclic collector's passes (``gc.freeze``), and its young generation
    collected at :data:`GC_YOUNG_THRESHOLD` allocations; both undone on exit."""
    previous = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(previous[0], GC_YOUNG_THRESHOLD), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
        gc.unfreeze()


@contextlib.contextmanager
def stop_signals() -> Iterator[asyncio.Event]:
    """An event set by SIGINT or SIGTERM while the block runs: both ask for the same drain
    (:func:`running_platform`'s exit), instead of SIGTERM's default of dying at once."""
    loop = asyncio.get_running_loop()
    requested = asyncio.Event()
    installed = []
    for number in STOP_SIGNALS:
        try:
            loop.add_signal_handler(number, requested.set)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            continue
        installed.append(number)
    try:
        yield requested
    finally:
        for number in installed:
            loop.remove_signal_handler(number)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _bound_port(server: uvicorn.Server) -> int:
    """The port the HTTP server listens on (the real one when settings asked for 0)."""
    for listener in server.servers:
        for sock in listener.sockets:
            return int(sock.getsockname()[1])
    raise RuntimeError("the HTTP server has no listening socket")


@dataclass
class RunningPlatform:
    platform: Platform
    app: Starlette
    worker: DeliveryWorker | None
    sweeper: Sweeper | None
    server: uvicorn.Server | None
    url: str
    node: NodeLease | None = None
    access: AccessServers | None = None  # the customer CMPP/SMPP servers, when on
    push: PushWorker | None = None  # the push callbacks' sender, when delivery runs here
    delivery: DeliveryChild | None = None  # the delivery process, when this one started it

    async def until_stopped(self, stop: asyncio.Event) -> None:
        """Wait for ``stop``; :class:`DeliveryGaveUp` if the delivery child could not be
        kept running meanwhile."""
        await run_until_stopped(self, stop)


async def run_until_stopped(running: RunningPlatform, stop: asyncio.Event) -> None:
    """Wait for ``stop``, or raise :class:`DeliveryGaveUp` (one line) when the platform's
    delivery process keeps dying."""
    if running.delivery is None:
        await stop.wait()
        return
    stopping = asyncio.ensure_future(stop.wait())
    gave_up = running.delivery.gave_up
    try:
        await asyncio.wait((stopping, gave_up), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if not stop.is_set() and gave_up.done():
        raise DeliveryGaveUp(gave_up.result())


async def _start_http(
    app: Starlette, platform: Platform, settings: Settings, *, api: bool = True
) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    """The HTTP server, serving once this returns (``api=False``: a worker's listener of
    its own metrics and readiness only)."""
    try:
        if api:
            server, sockets = http_server(app, platform, settings)
        else:
            server, sockets = metrics_server(platform, settings)
    except OSError as error:  # the port is taken, or the address is not this machine's
        where = f"{settings.host}:{settings.port}" if api else ""
        if settings.metrics_listen:
            where += f" or {settings.metrics_listen}" if api else settings.metrics_listen
        raise StartupError(f"cannot listen on {where}: {error.strerror or error}") from None
    server_task = asyncio.get_running_loop().create_task(server.serve(sockets=sockets))
    while not server.started:
        if server_task.done():
            server_task.result()
            raise RuntimeError("HTTP server stopped at start-up")
        await asyncio.sleep(0.01)
    return server, server_task


def _is_cluster(settings: Settings) -> bool:
    return settings.bus_url.startswith(REDIS_SCHEMES)


async def _take_node(settings: Settings, token: str) -> NodeLease | None:
    """A cluster process's node id lease (None in the embedded mode); StartupError with a
    one-line reason if the configured id is held or Redis does not answer."""
    if not _is_cluster(settings):
        return None
    node = NodeLease(Leases(settings.bus_url, settings.redis_prefix, token))
    try:
        await node.take(settings.node_id)
    except (NodeIdTaken, BusError) as error:
        await node.leases.close()
        raise StartupError(str(error)) from None
    return node


async def _adopt_node(platform: Platform, node: NodeLease) -> None:
    """Mint with the leased node id; claims a previous holder of the id left are given back
    (it is gone: the id was free)."""

    def use(node_id: int) -> None:
        platform.ids = MessageIdGenerator(node_id)

    use(node.node_id)
    node.on_change = use
    async with platform.engine.begin() as conn:
        released = await message_store.release_node_claims(conn, [node.node_id])
    if released:
        log.warning("%d claims of node %d's last holder queued again", len(released), node.node_id)
        with contextlib.suppress(BusError):
            await platform.bus.publish(SUBMIT_STREAM, submit_entries(released))
    node.start()


@dataclass(frozen=True, slots=True)
class _Layout:
    """What runs in this process, and how work reaches delivery."""

    delivery_here: bool  # the worker, sweeper and push callbacks
    api_here: bool  # the HTTP API and the customer CMPP/SMPP servers
    child: bool  # start the delivery process (and supervise it)
    local: LocalPaths | None  # the local hand-off (embedded mode on a SQLite file)


def _layout(settings: Settings) -> _Layout:
    local = _local_paths(settings)
    child = settings.role == "all" and bool(settings.delivery_process) and local is not None
    return _Layout(
        delivery_here=settings.role == "worker" or (settings.role == "all" and not child),
        api_here=settings.role in ("all", "api"),
        child=child,
        local=local,
    )


def _local_paths(settings: Settings) -> LocalPaths | None:
    """The hand-off paths of an embedded platform on a SQLite file (None: a cluster, or a
    database no second process can open)."""
    if _is_cluster(settings) or not is_sqlite(settings.database_url):
        return None
    database = make_url(settings.database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return local_paths(database, settings.delivery_socket)


LOCK_POLL_SECONDS = 0.1


class _CheckpointTurn:
    """Of the processes on one SQLite file (an API process and its delivery process), the
    one holding ``<lock>.checkpoint`` checkpoints the log; the others ask again at each
    round, so that one takes over when the holder dies (the kernel drops its lock)."""

    def __init__(self, local: LocalPaths | None) -> None:
        self._lock = None if local is None else DeliveryLock(f"{local.lock}.checkpoint")
        self._held = local is None  # elsewhere (PostgreSQL, a cluster) nothing to share

    def mine(self) -> bool:
        if not self._held and self._lock is not None:
            try:
                self._lock.take()
            except DeliveryLockHeld:
                return False
            self._held = True
        return self._held

    def release(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._held = False


async def _take_delivery_lock(layout: _Layout, wait: float) -> DeliveryLock | None:
    """The database's delivery lock, waited for up to ``wait`` seconds (a delivery process
    whose parent was killed drains before it lets go)."""
    if layout.local is None or not layout.delivery_here:
        return None
    lock = DeliveryLock(layout.local.lock)
    deadline = asyncio.get_running_loop().time() + wait
    while True:
        try:
            lock.take()
        except DeliveryLockHeld as error:
            if asyncio.get_running_loop().time() >= deadline:
                raise StartupError(str(error)) from None
            await asyncio.sleep(LOCK_POLL_SECONDS)
            continue
        return lock


def _hand_off_locally(platform: Platform, local: LocalPaths) -> None:
    """An API process without delivery: publish to the delivery process's socket, and show
    the channels as that process reports them."""

    def channels(snapshot: dict[str, object]) -> None:
        live: dict[str, ChannelLive] = {}
        for name, fields in snapshot.items():
            with contextlib.suppress(TypeError):
                live[name] = ChannelLive(**fields)  # type: ignore[arg-type]
        platform.channel_live = lambda: live
        platform.channel_states = lambda: {name: state.up for name, state in live.items()}

    platform.bus = LocalBus(local.socket, on_channels=channels)


def _channel_snapshot(platform: Platform) -> dict[str, object]:
    return {name: dataclasses.asdict(state) for name, state in platform.channel_live().items()}


@dataclass
class _Delivery:
    """This process's delivery parts, started one by one (a failed start stops those up)."""

    worker: DeliveryWorker | None = None
    sweeper: Sweeper | None = None
    push: PushWorker | None = None
    listener: LocalListener | None = None

    async def start(
        self,
        platform: Platform,
        settings: Settings,
        node: NodeLease | None,
        token: str,
        local: LocalPaths | None,
    ) -> None:
        self.worker = _new_worker(platform, settings, node, token)
        await self.worker.start()
        if local is not None and isinstance(platform.bus, MemoryBus):
            # Before the recovery below: a message committed after it looked is published
            # to this listener.
            self.listener = LocalListener(
                platform.bus, local.socket, lambda: _channel_snapshot(platform)
            )
            await self.listener.start()
        self.sweeper = Sweeper(platform, self.worker, node)
        if settings.bus_url == "memory://":
            await self.sweeper.recover()
        self.sweeper.start()
        self.push = PushWorker(platform)
        await self.push.start()

    async def stop(self, grace: float) -> None:
        """No more claims, submits on the wire given ``grace``, every claim left given back."""
        if self.push is not None:
            await self.push.stop()
        if self.sweeper is not None:
            await self.sweeper.stop()
        if self.worker is not None:
            await self.worker.stop(grace)
        if self.sweeper is not None:
            await self.sweeper.release_leases()
        if self.listener is not None:
            await self.listener.stop()


@dataclass
class _Front:
    """The HTTP server and the customer CMPP/SMPP servers, when this process runs them."""

    server: uvicorn.Server | None = None
    task: asyncio.Task[None] | None = None
    access: AccessServers | None = None

    async def start(
        self, app: Starlette, platform: Platform, settings: Settings, *, http: bool
    ) -> None:
        if http:
            self.server, self.task = await _start_http(app, platform, settings)
        if settings.access_cmpp_port or settings.access_smpp_port:
            self.access = AccessServers(platform, AccessConfig.from_settings(settings))
            await self.access.start(settings.access_cmpp_port, settings.access_smpp_port)
            app.state.access = self.access  # the console shows customers where to connect

    async def start_metrics(self, app: Starlette, platform: Platform, settings: Settings) -> None:
        """A worker's own listener: its metrics and readiness only."""
        self.server, self.task = await _start_http(app, platform, settings, api=False)

    async def stop(self) -> None:
        """No new connections; requests in flight answered."""
        if self.access is not None:
            await self.access.stop()
        if self.server is not None and self.task is not None:
            self.server.should_exit = True
            await asyncio.gather(self.task, return_exceptions=True)


async def _start_child(settings: Settings) -> DeliveryChild:
    child = DeliveryChild(settings)
    try:
        await child.start()
    except DeliveryGaveUp as error:
        raise StartupError(str(error)) from None
    return child


@contextlib.asynccontextmanager
async def running_platform(
    settings: Settings,
    extra_routes: Sequence[BaseRoute] = (),
    *,
    serve_http: bool = True,
    lock_wait: float = 0.0,
) -> AsyncIterator[RunningPlatform]:
    """Start everything ``settings.role`` asks for; stop it all on exit. ``lock_wait``:
    how long to wait for another embedded delivery process on the same SQLite file to stop
    (0: refuse to start at once)."""
    use_encryption_key(settings)  # refused before anything starts when there is none
    await asyncio.to_thread(migrate, settings.database_url, settings.encryption_key)
    layout = _layout(settings)
    lock = await _take_delivery_lock(layout, lock_wait)
    try:
        token = new_token()
        platform, node = await _open_platform(settings, token)
        if layout.local is not None and not layout.delivery_here:
            await platform.bus.close()
            _hand_off_locally(platform, layout.local)
        turn = _CheckpointTurn(layout.local)
        checkpoints = asyncio.get_running_loop().create_task(
            checkpoint_periodically(settings.database_url, CHECKPOINT_SECONDS, turn.mine)
        )
        app = create_app(platform, extra_routes)
        delivery, front = _Delivery(), _Front()
        child: DeliveryChild | None = None
        try:
            if layout.delivery_here:
                await delivery.start(platform, settings, node, token, layout.local)
            if layout.child:
                child = await _start_child(settings)
            if layout.api_here:
                await front.start(app, platform, settings, http=serve_http)
            elif serve_http and settings.metrics_listen:
                await front.start_metrics(app, platform, settings)
            port = _bound_port(front.server) if front.server is not None else settings.port
            with collector_tuned():
                yield RunningPlatform(
                    platform,
                    app,
                    delivery.worker,
                    delivery.sweeper,
                    front.server,
                    f"http://{settings.host}:{port}",
                    node=node,
                    access=front.access,
                    push=delivery.push,
                    delivery=child,
                )
        finally:
            await front.stop()
            if child is not None:
                await child.stop()  # the same drain, in the delivery process
            await delivery.stop(settings.shutdown_grace_seconds)
            checkpoints.cancel()
            turn.release()
            await platform.close()
            await _leave_cluster(node, delivery.worker)
    finally:
        if lock is not None:
            lock.release()


async def _open_platform(settings: Settings, token: str) -> tuple[Platform, NodeLease | None]:
    """The platform, minting with its leased node id in a cluster, after every stored id."""
    node = await _take_node(settings, token)
    platform = Platform.open(settings)
    if node is not None:
        await _adopt_node(platform, node)
    await platform.resume_ids()
    return platform, node


def _new_worker(
    platform: Platform, settings: Settings, node: NodeLease | None, token: str
) -> DeliveryWorker:
    leases = None
    if node is not None:
        connections = Leases(settings.bus_url, settings.redis_prefix, token)
        leases = ConnectionLeases(connections, f"node-{node.node_id}")
    return DeliveryWorker(platform, _consumer(node), leases)


async def _leave_cluster(node: NodeLease | None, worker: DeliveryWorker | None) -> None:
    """Release the node id (its connection leases went with the worker's stop)."""
    if node is None:
        return
    await node.stop()
    await node.leases.close()
    if worker is not None and worker.pool.leases is not None:
        await worker.pool.leases.leases.close()


def _consumer(node: NodeLease | None) -> str:
    """The worker's consumer name in the stream group (one per node in a cluster)."""
    return "worker-1" if node is None else f"worker-{node.node_id}"
