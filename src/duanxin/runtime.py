"""Running the platform in one process: store, delivery, sweeper and the HTTP server."""

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
from duanxin.api.server import http_server
from duanxin.config import Settings
from duanxin.delivery.sweeper import Sweeper
from duanxin.delivery.worker import DeliveryWorker
from duanxin.service.platform import Platform, use_encryption_key
from duanxin.store.engine import checkpoint_periodically, migrate

__all__ = ["RunningPlatform", "free_port", "running_platform", "stop_signals"]

log = logging.getLogger(__name__)
CHECKPOINT_SECONDS = 1.0
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
    access: AccessServers | None = None  # the customer CMPP/SMPP servers, when on


@contextlib.asynccontextmanager
async def running_platform(
    settings: Settings, extra_routes: Sequence[BaseRoute] = (), *, serve_http: bool = True
) -> AsyncIterator[RunningPlatform]:
    """Start everything ``settings.role`` asks for; stop it all on exit."""
    use_encryption_key(settings)  # refused before anything starts when there is none
    await asyncio.to_thread(migrate, settings.database_url, settings.encryption_key)
    platform = Platform.open(settings)
    await platform.resume_ids()
    checkpoints = asyncio.get_running_loop().create_task(
        checkpoint_periodically(settings.database_url, CHECKPOINT_SECONDS)
    )
    app = create_app(platform, extra_routes)
    worker: DeliveryWorker | None = None
    sweeper: Sweeper | None = None
    server: uvicorn.Server | None = None
    server_task: asyncio.Task[None] | None = None
    access: AccessServers | None = None
    try:
        if settings.role in ("all", "worker"):
            worker = DeliveryWorker(platform)
            await worker.start()
            sweeper = Sweeper(platform, worker)
            if settings.bus_url == "memory://":
                await sweeper.recover()
            sweeper.start()
        if serve_http and settings.role in ("all", "api"):
            server, sockets = http_server(app, platform, settings)
            server_task = asyncio.get_running_loop().create_task(server.serve(sockets=sockets))
            while not server.started:
                if server_task.done():
                    server_task.result()
                    raise RuntimeError("HTTP server stopped at start-up")
                await asyncio.sleep(0.01)
        port = _bound_port(server) if server is not None else settings.port
        url = f"http://{settings.host}:{port}"
        if settings.role in ("all", "api") and (
            settings.access_cmpp_port or settings.access_smpp_port
        ):
            access = AccessServers(platform, AccessConfig.from_settings(settings))
            await access.start(settings.access_cmpp_port, settings.access_smpp_port)
            app.state.access = access  # the console shows customers where to connect
        yield RunningPlatform(platform, app, worker, sweeper, server, url, access)
    finally:
        if access is not None:
            await access.stop()
        # The drain: no new connections, requests in flight answered; no more claims, and
        # submits on the wire given the grace period; every claim left given back.
        if server is not None and server_task is not None:
            server.should_exit = True
            await asyncio.gather(server_task, return_exceptions=True)
        if sweeper is not None:
            await sweeper.stop()
        if worker is not None:
            await worker.stop(settings.shutdown_grace_seconds)
        if sweeper is not None:
            await sweeper.release_leases()
        checkpoints.cancel()
        await platform.close()
