"""The ASGI application: the seed endpoints, plus whatever extra routes a mode adds."""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from duanxin.api.customer import customer_routes
from duanxin.api.docs_page import render_docs
from duanxin.api.errors import error_response
from duanxin.api.http_guard import RequestGuard
from duanxin.api.openapi import build_document
from duanxin.api.operator import operator_routes
from duanxin.api.responses import json_response
from duanxin.api.seed import METHODS, Endpoint, seed_endpoints, seed_routes
from duanxin.console import console_routes
from duanxin.logs import AccessLog
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


class _SeedFirst(Starlette):
    """Starlette, with the published endpoints' GET and POST taken straight to their
    endpoint: through the same middleware (the server-error answer, the access log, the
    request guard), past the router, the exception middleware and the per-route wrappers
    (about 8 % of a one-number send's CPU). Everything else, those paths' other methods
    included, goes through Starlette as before; the routes stay declared there (the
    OpenAPI document is built from them)."""

    def __init__(self, seeds: dict[str, Endpoint], **options: Any) -> None:
        super().__init__(**options)
        self._seeds = seeds
        self._methods = frozenset(METHODS)
        self._seed_stack: ASGIApp = ServerErrorMiddleware(AccessLog(RequestGuard(self._seed)))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] in self._seeds
            and scope["method"] in self._methods
            and not scope.get("root_path")
        ):
            scope["app"] = self
            await self._seed_stack(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def _seed(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        response = await self._seeds[scope["path"]](request)
        await response(scope, receive, send)


def create_app(platform: Platform, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The HTTP front door over ``platform`` (``/metrics`` too, unless the settings give
    it a listener of its own: then :func:`metrics_app` serves it there)."""
    metrics = [] if platform.settings.metrics_listen else [Route("/metrics", _metrics)]
    seeds = seed_endpoints()
    app = _SeedFirst(
        seeds,
        routes=[
            *seed_routes(seeds),
            Route("/healthz", _health),
            Route("/readyz", _ready),
            *metrics,
            *operator_routes(),
            *customer_routes(),
            Route("/openapi.json", _openapi, methods=["GET"]),
            Route("/docs", _docs, methods=["GET"]),
            *console_routes(),
            *extra_routes,
        ],
        middleware=[Middleware(AccessLog), Middleware(RequestGuard)],
        exception_handlers={404: _not_routed, 405: _not_routed},
    )
    app.state.platform = platform
    app.state.openapi = None
    app.state.docs_html = None
    return app


REST_PREFIXES = ("/admin/", "/customer/")


def _document(request: Request) -> dict[str, Any]:
    state = request.app.state
    if getattr(state, "openapi", None) is None:
        state.openapi = build_document(request.app.routes)
    document: dict[str, Any] = state.openapi
    return document


async def _openapi(request: Request) -> Response:
    """The OpenAPI 3.1 document of this server."""
    return json_response(_document(request))


async def _docs(request: Request) -> Response:
    """The API reference as an HTML page (from the OpenAPI document)."""
    if getattr(request.app.state, "docs_html", None) is None:
        request.app.state.docs_html = render_docs(_document(request))
    return HTMLResponse(request.app.state.docs_html)


async def _not_routed(request: Request, exc: Exception) -> Response:
    """An unknown path or method: the REST error shape under /admin and /customer (an
    unknown action is a 404 there, never another action), Starlette's plain text elsewhere."""
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(REST_PREFIXES):
        what = "path" if exc.status_code == 404 else f"method {request.method} for this path"
        response = error_response(exc.status_code, f"no such {what}: {request.url.path}")
    else:
        response = PlainTextResponse(exc.detail, exc.status_code)
    for name, value in (exc.headers or {}).items():
        response.headers[name] = value
    return response


def metrics_app(platform: Platform) -> Starlette:
    """``/metrics``, ``/healthz`` and ``/readyz`` of this one process, for the listener of
    ``settings.metrics_listen`` (a process behind a shared port is probed there, and a
    delivery worker, which has no API port, answers there)."""
    routes = [Route("/metrics", _metrics), Route("/healthz", _health), Route("/readyz", _ready)]
    app = Starlette(routes=routes, middleware=[Middleware(RequestGuard)])
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
