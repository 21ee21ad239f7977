"""Customer REST: register signatures and templates for review, and see their state.

Authenticated exactly like the four seed endpoints: the gateway signature (SPEC 2.1)
and the ``account``/``password`` parameters (SPEC 2.2, status codes as there).
Parameters come as a form, a JSON object or the query string, like the seed endpoints.

- ``POST /customer/signatures``: ``signature`` (``【公司名】`` or ``公司名``, 2–12 chars);
- ``GET|POST /customer/signatures/list``, also ``GET /customer/signatures``: the account's
  signatures and their state (``pending``, ``approved``, ``rejected`` with ``reason``);
- ``POST /customer/templates``: ``kind`` (``verification``, ``notification``,
  ``marketing``) and ``template`` (text with ``${name}`` or ``{1}`` variables); a
  template with problems is refused at once (status 1, ``msg`` names them);
- ``GET|POST /customer/templates/list``, also ``GET /customer/templates``.

Answers: ``{"status": 0, "msg": "ok", "signature"|"template": {...}}`` or
``{"status": 0, "msg": "ok", "list": [...]}``; refusals ``{"status": N, "msg": "..."}``,
the REST error shape of :mod:`duanxin.api.errors` (HTTP 200, ``N`` a platform status).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from duanxin.api.bodies import read_body
from duanxin.api.errors import error_response
from duanxin.api.gateway import GatewayRefusal, caller_for
from duanxin.api.params import ParamError, parse_params
from duanxin.api.responses import json_response
from duanxin.api.wire_models import AUTH_PARAMS, Param
from duanxin.domain.accounts import Account
from duanxin.domain.status import Status, StatusError
from duanxin.domain.wire import SEED_TIME_FORMAT
from duanxin.service import review
from duanxin.service.accounts import authenticate
from duanxin.service.platform import Platform

__all__ = ["CUSTOMER_ENDPOINTS", "CustomerEndpoint", "customer_routes"]

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024

Handler = Callable[[Platform, Account, dict[str, str]], Awaitable[dict[str, Any]]]


def _time(value: datetime | None) -> str | None:
    return value.strftime(SEED_TIME_FORMAT) if value else None


def _view(row: dict[str, Any]) -> dict[str, Any]:
    """What a customer sees of a signature or template (not who reviewed it)."""
    view = {k: v for k, v in row.items() if k not in ("decided_by", "account")}
    view["created_at"] = _time(row["created_at"])
    view["decided_at"] = _time(row["decided_at"])
    return view


async def _register_signature(
    platform: Platform, account: Account, params: dict[str, str]
) -> dict[str, Any]:
    text = params.get("signature", "")
    if not text.strip():
        raise ParamError("missing parameter: signature")
    row = await review.register_signature(platform, account.account, text)
    return {"signature": _view(row)}


async def _signatures(
    platform: Platform, account: Account, params: dict[str, str]
) -> dict[str, Any]:
    rows = await review.list_signatures(platform, account.account, params.get("state") or None)
    return {"list": [_view(r) for r in rows]}


async def _register_template(
    platform: Platform, account: Account, params: dict[str, str]
) -> dict[str, Any]:
    kind = params.get("kind", "").strip()
    text = params.get("template") or params.get("content") or ""
    if not kind or not text.strip():
        raise ParamError("missing parameter: kind and template are required")
    if kind not in ("verification", "notification", "marketing"):
        raise ParamError("kind must be verification, notification or marketing")
    row = await review.register_template(platform, account.account, kind, text)
    return {"template": _view(row)}


async def _templates(
    platform: Platform, account: Account, params: dict[str, str]
) -> dict[str, Any]:
    rows = await review.list_templates(platform, account.account, params.get("state") or None)
    return {"list": [_view(r) for r in rows]}


def _endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        platform: Platform = request.app.state.platform
        try:
            caller = await caller_for(request, platform, datetime.now().astimezone())
        except GatewayRefusal as refusal:
            return json_response(refusal.body, 401)
        try:
            body = await read_body(request, MAX_BODY)
            params = parse_params(
                body, request.headers.get("content-type"), request.url.query, max_body=MAX_BODY
            )
            account = await authenticate(
                platform, params.get("account", "").strip(), params.get("password", ""), caller
            )
            async with platform.request_slot(account.id, account.max_concurrency):
                document = await handler(platform, account, params)
        except ParamError as error:
            return error_response(int(error.status), error.msg, http_status=200)
        except StatusError as error:
            return error_response(int(error.status), error.message, http_status=200)
        except ValueError as error:  # PolicyError included: the definition is refused
            return error_response(int(Status.MALFORMED), str(error), http_status=200)
        except ClientDisconnect:
            raise  # nobody to answer: logged by the request guard
        except Exception:
            log.exception("%s failed", request.url.path)
            return error_response(int(Status.INTERNAL), "internal error", http_status=200)
        return json_response({"status": 0, "msg": "ok", **document})

    return endpoint


@dataclass(frozen=True, slots=True)
class CustomerEndpoint:
    """One customer REST endpoint, routed and documented from this declaration."""

    path: str
    methods: tuple[str, ...]
    handler: Handler
    summary: str
    params: tuple[Param, ...]


STATE = Param("state", "Only this state.", enum=("pending", "approved", "rejected"))
SIGNATURE = Param("signature", "【公司名】 or 公司名, 2 to 12 characters.", required=True,
                  example="【duanxin】")  # fmt: skip
TEMPLATE = (
    Param("kind", "The template's kind.", required=True,
          enum=("verification", "notification", "marketing")),
    Param("template", "Text with ${name} or {1} variables (also as content).", required=True,
          example="您的验证码是${code}"),
)  # fmt: skip
CUSTOMER_ENDPOINTS = (
    CustomerEndpoint("/customer/signatures", ("POST",), _register_signature,
                     "Register a signature for review", (*AUTH_PARAMS, SIGNATURE)),
    CustomerEndpoint("/customer/signatures", ("GET",), _signatures, "List signatures",
                     (*AUTH_PARAMS, STATE)),
    CustomerEndpoint("/customer/signatures/list", ("GET", "POST"), _signatures,
                     "List signatures", (*AUTH_PARAMS, STATE)),
    CustomerEndpoint("/customer/templates", ("POST",), _register_template,
                     "Register a template for review", (*AUTH_PARAMS, *TEMPLATE)),
    CustomerEndpoint("/customer/templates", ("GET",), _templates, "List templates",
                     (*AUTH_PARAMS, STATE)),
    CustomerEndpoint("/customer/templates/list", ("GET", "POST"), _templates,
                     "List templates", (*AUTH_PARAMS, STATE)),
)  # fmt: skip


def customer_routes() -> list[Route]:
    return [
        Route(e.path, _endpoint(e.handler), methods=list(e.methods)) for e in CUSTOMER_ENDPOINTS
    ]
