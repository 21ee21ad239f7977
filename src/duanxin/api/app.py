"""The ASGI application: the seed endpoints, plus whatever extra routes a mode adds."""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from duanxin.api.seed import seed_routes
from duanxin.service.platform import Platform

__all__ = ["create_app"]


async def _health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


def create_app(platform: Platform, extra_routes: Sequence[BaseRoute] = ()) -> Starlette:
    """The HTTP front door over ``platform``."""
    app = Starlette(routes=[*seed_routes(), Route("/healthz", _health), *extra_routes])
    app.state.platform = platform
    return app
