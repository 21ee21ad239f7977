"""The ASGI application: the seed endpoints, plus whatever extra routes a mode adds."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from duanxin.api.customer import customer_routes
from duanxin.api.operator import operator_routes
from duanxin.api.seed import seed_routes
from duanxin.metrics import CHANNEL_UP
from duanxin.service.platform import Platform
from duanxin.service.readiness import not_ready_reasons

__all__ = ["create_app"]


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
    refresh_channel_gauges(platform)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def refresh_channel_gauges(platform: Platform) -> None:
    for name, up in platform.channel_states().items():
        CHANNEL_UP.labels(channel=name).set(1 if up else 0)


def create_app(platform: Platform, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The HTTP front door over ``platform``."""
    app = Starlette(
        routes=[
            *seed_routes(),
            Route("/healthz", _health),
            Route("/readyz", _ready),
            Route("/metrics", _metrics),
            *operator_routes(),
            *customer_routes(),
            *extra_routes,
        ]
    )
    app.state.platform = platform
    return app
