"""The ASGI application: the seed endpoints, plus whatever extra routes a mode adds."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from duanxin.api.customer import customer_routes
from duanxin.api.http_guard import RequestGuard
from duanxin.api.operator import operator_routes
from duanxin.api.seed import seed_routes
from duanxin.console import console_routes
from duanxin.metrics import CHANNEL_UP
from duanxin.service.platform import Platform
from duanxin.service.readiness import not_ready_reasons

__all__ = ["ByListener", "create_app", "metrics_app"]


async def _health(request: Request) -> Response:
    """Liveness: the process answers."""
    return JSONResponse({"status": "ok"})


async def _ready(request: Request) -> Response:
    """Readiness: 503 with the reasons while the database, the bus or a carrier is away."""
    reasons = await not_ready_reasons(request.app.state.platform)
    if reasons:
        return JSONResponse({"status": "not ready", "reasons": reasons}, status_code=503)
    return JSONResponse({"status": "ready", "reasons": []})


async def _metrics(request: Request) -> Response:
    platform: Platform = request.app.state.platform
    token = platform.settings.metrics_token
    if token and not _bearer_matches(request.headers.get("authorization"), token):
        return JSONResponse(
            {"message": "metrics token required: Authorization: Bearer <token>"},
            401,
            headers={"WWW-Authenticate": "Bearer"},
        )
    refresh_channel_gauges(platform)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _bearer_matches(header: str | None, token: str) -> bool:
    scheme, _, given = (header or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogatepass"), token.encode("utf-8")
    )


def refresh_channel_gauges(platform: Platform) -> None:
    for name, up in platform.channel_states().items():
        CHANNEL_UP.labels(channel=name).set(1 if up else 0)


def create_app(platform: Platform, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The HTTP front door over ``platform`` (``/metrics`` too, unless the settings give
    it a listener of its own: then :func:`metrics_app` serves it there)."""
    metrics = [] if platform.settings.metrics_listen else [Route("/metrics", _metrics)]
    app = Starlette(
        routes=[
            *seed_routes(),
            Route("/healthz", _health),
            Route("/readyz", _ready),
            *metrics,
            *operator_routes(),
            *customer_routes(),
            *console_routes(),
            *extra_routes,
        ],
        middleware=[Middleware(RequestGuard)],
    )
    app.state.platform = platform
    return app


def metrics_app(platform: Platform) -> Starlette:
    """``/metrics`` alone, for the listener of ``settings.metrics_listen``."""
    app = Starlette(routes=[Route("/metrics", _metrics)], middleware=[Middleware(RequestGuard)])
    app.state.platform = platform
    return app


class ByListener:
    """Dispatch to ``apps[local port]``, else to ``default`` (one server, two listeners)."""

    def __init__(self, default: ASGIApp, apps: dict[int, ASGIApp]) -> None:
        self.default = default
        self.apps = apps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        server = scope.get("server")
        app = self.apps.get(server[1], self.default) if server else self.default
        await app(scope, receive, send)
