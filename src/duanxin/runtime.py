"""Running the platform in one process: store, delivery, sweeper and the HTTP server.

With a Redis bus the process is one node of a cluster (:mod:`duanxin.cluster`): it leases
its node id before minting any message id, and its delivery worker leases the carrier
connections it opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from duanxin.access import AccessConfig, AccessServers
from duanxin.api.app import create_app
from duanxin.api.server import http_server, metrics_server
from duanxin.bus import REDIS_SCHEMES, BusError
from duanxin.cluster.connections import ConnectionLeases
from duanxin.cluster.leases import Leases, new_token
from duanxin.cluster.node import NodeIdTaken, NodeLease
from duanxin.config import Settings
from duanxin.delivery.push import PushWorker
from duanxin.delivery.sweeper import Sweeper
from duanxin.delivery.worker import DeliveryWorker, StartupError
from duanxin.domain.msgid import MessageIdGenerator
from duanxin.service.platform import SUBMIT_STREAM, Platform, submit_entries, use_encryption_key
from duanxin.store import messages as message_store
from duanxin.store.engine import checkpoint_periodically, migrate

__all__ = [
    "RunningPlatform",
    "StartupError",
    "free_port",
    "running_platform",
    "stop_signals",
]

log = logging.getLogger(__name__)
CHECKPOINT_SECONDS = 0.25
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)  # what systemd, containers and Ctrl-C send


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


@contextlib.asynccontextmanager
async def running_platform(
    settings: Settings, extra_routes: Sequence[BaseRoute] = (), *, serve_http: bool = True
) -> AsyncIterator[RunningPlatform]:
    """Start everything ``settings.role`` asks for; stop it all on exit."""
    use_encryption_key(settings)  # refused before anything starts when there is none
    await asyncio.to_thread(migrate, settings.database_url, settings.encryption_key)
    token = new_token()
    platform, node = await _open_platform(settings, token)
    checkpoints = asyncio.get_running_loop().create_task(
        checkpoint_periodically(settings.database_url, CHECKPOINT_SECONDS)
    )
    app = create_app(platform, extra_routes)
    worker: DeliveryWorker | None = None
    sweeper: Sweeper | None = None
    push: PushWorker | None = None
    server: uvicorn.Server | None = None
    server_task: asyncio.Task[None] | None = None
    access: AccessServers | None = None
    try:
        if settings.role in ("all", "worker"):
            worker = _new_worker(platform, settings, node, token)
            await worker.start()
            sweeper = Sweeper(platform, worker, node)
            if settings.bus_url == "memory://":
                await sweeper.recover()
            sweeper.start()
            push = PushWorker(platform)
            await push.start()
        if serve_http and settings.role in ("all", "api"):
            server, server_task = await _start_http(app, platform, settings)
        elif serve_http and settings.metrics_listen:
            server, server_task = await _start_http(app, platform, settings, api=False)
        port = _bound_port(server) if server is not None else settings.port
        url = f"http://{settings.host}:{port}"
        if settings.role in ("all", "api") and (
            settings.access_cmpp_port or settings.access_smpp_port
        ):
            access = AccessServers(platform, AccessConfig.from_settings(settings))
            await access.start(settings.access_cmpp_port, settings.access_smpp_port)
            app.state.access = access  # the console shows customers where to connect
        yield RunningPlatform(
            platform, app, worker, sweeper, server, url, node=node, access=access, push=push
        )
    finally:
        if access is not None:
            await access.stop()
        # The drain: no new connections, requests in flight answered; no more claims, and
        # submits on the wire given the grace period; every claim left given back.
        if server is not None and server_task is not None:
            server.should_exit = True
            await asyncio.gather(server_task, return_exceptions=True)
        if push is not None:
            await push.stop()
        if sweeper is not None:
            await sweeper.stop()
        if worker is not None:
            await worker.stop(settings.shutdown_grace_seconds)
        if sweeper is not None:
            await sweeper.release_leases()
        checkpoints.cancel()
        await platform.close()
        await _leave_cluster(node, worker)


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
