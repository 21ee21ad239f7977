"""The uvicorn server of the HTTP front door, with its guards and listeners."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from starlette.types import ASGIApp

from duanxin.api.app import ByListener, metrics_app
from duanxin.api.http_guard import HttpLimits, guarded_protocol
from duanxin.config import Settings, split_host_port
from duanxin.service.platform import Platform

__all__ = ["QuietServer", "http_server", "listening_socket"]

BACKLOG = 2048  # uvicorn's default


def listening_socket(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A bound, listening TCP socket (port 0: an ephemeral one); ``reuse_port``: shared
    with the other processes that bind it so (``SO_REUSEPORT``)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class QuietServer(uvicorn.Server):
    """uvicorn without signal handlers of its own: it would stop only the HTTP server (and
    re-raise SIGTERM, killing the process mid-drain); ``runtime.stop_signals`` handles them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def http_server(
    app: ASGIApp, platform: Platform, settings: Settings
) -> tuple[uvicorn.Server, list[socket.socket] | None]:
    """The server for ``app`` and the sockets to pass to ``serve`` (``None``: uvicorn binds
    ``settings.host``/``port`` itself). With ``settings.metrics_listen``, a second listener
    answers ``/metrics`` and nothing else; the API listener is always the first."""
    sockets: list[socket.socket] | None = None
    if settings.reuse_port and not settings.metrics_listen:
        sockets = [listening_socket(settings.host, settings.port, reuse_port=True)]
    if settings.metrics_listen:
        api = listening_socket(settings.host, settings.port, reuse_port=settings.reuse_port)
        try:
            metrics = listening_socket(*split_host_port(settings.metrics_listen))
        except OSError:
            api.close()
            raise
        sockets = [api, metrics]
        app = ByListener(app, {int(metrics.getsockname()[1]): metrics_app(platform)})
    return _server(app, settings), sockets


def metrics_server(
    platform: Platform, settings: Settings
) -> tuple[uvicorn.Server, list[socket.socket]]:
    """A delivery worker's only listener: :func:`metrics_app` on ``settings.metrics_listen``."""
    assert settings.metrics_listen is not None
    sockets = [listening_socket(*split_host_port(settings.metrics_listen))]
    return _server(metrics_app(platform), settings), sockets


def _server(app: ASGIApp, settings: Settings) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        http=guarded_protocol(HttpLimits.from_settings(settings)),
        ws="none",  # no WebSocket endpoints; the guard assumes every request is plain HTTP
        log_level="warning",
        access_log=False,
        lifespan="off",
        # X-Forwarded-For is honoured by the gateway, from settings.trusted_proxies
        # only; uvicorn's own handling would trust it from any local peer.
        proxy_headers=False,
    )
    return QuietServer(config)
