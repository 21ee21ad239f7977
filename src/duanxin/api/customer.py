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
- ``GET|POST /customer/templates/list``, also ``GET /customer/templates``;
- ``POST /customer/callbacks``: ``reports_url`` and/or ``replies_url`` (empty: remove),
  ``rotate=1`` for a new signing secret; the answer has ``secret`` (``whsec_...``) only
  when it was just made; ``GET /customer/callbacks`` (or ``POST .../show``) shows them;
- ``GET|POST /customer/stats``: ``grain`` (day, hour), ``since``, ``until``, ``by=carrier``;
- ``GET|POST /customer/messages``: ``mid``, or ``mobile`` / ``since`` / ``until`` / ``limit`` /
  ``offset``: each message with its history;
- ``GET|POST /customer/ledger``: ``before`` (an entry id), ``limit``, ``since``, ``until``,
  ``reason``: charges, refunds and recharges with the balance after each, newest first.

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

from duanxin.api import views
from duanxin.api.bodies import read_body
from duanxin.api.errors import error_response
from duanxin.api.gateway import GatewayRefusal, caller_for
from duanxin.api.params import ParamError, parse_params
from duanxin.api.responses import json_response
from duanxin.api.wire_models import AUTH_PARAMS, Param
from duanxin.domain.accounts import Account
from duanxin.domain.status import Status, StatusError
from duanxin.domain.wire import SEED_TIME_FORMAT
from duanxin.service import callbacks, history, review, stats
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


# ---------------------------------------- callbacks, statistics, messages, ledger


def _flag(params: dict[str, str], name: str) -> bool:
    return params.get(name, "").strip().lower() in ("1", "true", "yes")


async def _set_callbacks(
    platform: Platform, account: Account, params: dict[str, str]
) -> dict[str, Any]:
    view = await callbacks.set_callbacks(
        platform,
        account.id,
        reports_url=params.get("reports_url"),
        replies_url=params.get("replies_url"),
        rotate=_flag(params, "rotate"),
        actor=f"customer:{account.account}",
    )
    return views.callback_view(view)


async def _show_callbacks(
    platform: Platform, account: Account, params: dict[str, str]
) -> dict[str, Any]:
    view = await callbacks.show_callbacks(platform, account.id)
    return {"callbacks": None if view is None else views.callback_view(view)}


async def _stats(platform: Platform, account: Account, params: dict[str, str]) -> dict[str, Any]:
    query = views.stats_params(params, stats.CUSTOMER_DIMENSIONS)
    lines = await stats.statistics(
        platform,
        grain=query.grain,
        since=query.since,
        until=query.until,
        by=query.by,
        account_id=account.id,
    )
    return {"list": views.stats_view(lines)}


async def _messages(platform: Platform, account: Account, params: dict[str, str]) -> dict[str, Any]:
    mid = params.get("mid", "").strip()
    if mid:
        found = await history.message_history(platform, mid, account.id)
        return {"list": [] if found is None else [views.history_view(found)]}
    found_list = await history.search_messages(
        platform,
        account_id=account.id,
        mobile=params.get("mobile", "").strip() or None,
        since=views.optional_time(params, "since"),
        until=views.optional_time(params, "until"),
        limit=views.optional_int(params, "limit", 100) or 100,
        offset=views.optional_int(params, "offset", 0) or 0,
    )
    return {"list": [views.history_view(h) for h in found_list]}


async def _ledger(platform: Platform, account: Account, params: dict[str, str]) -> dict[str, Any]:
    page = await history.ledger_page(
        platform,
        account.id,
        before=views.optional_int(params, "before"),
        limit=views.optional_int(params, "limit", 100) or 100,
        since=views.optional_time(params, "since"),
        until=views.optional_time(params, "until"),
        reason=params.get("reason", "").strip() or None,
    )
    return views.ledger_view(page)


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
CALLBACKS = (
    Param(
        "reports_url",
        "Where reports are POSTed (http or https; empty removes).",
        example="https://example.com/sms/reports",
    ),
    Param(
        "replies_url",
        "Where replies are POSTed (http or https; empty removes).",
        example="https://example.com/sms/replies",
    ),
    Param(
        "rotate", "1: a new signing secret (the old one signs too for 24 hours).", enum=("0", "1")
    ),
)
SINCE = Param(
    "since", "From this time (YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, local).", example="2026-12-01"
)
UNTIL = Param("until", "Until this time (same forms).", example="2026-12-02 23:59:59")
LIMIT = Param("limit", "At most this many (1 to 500; default 100).", example="100")
STATS = (
    Param("grain", "Per day (default) or hour.", enum=("day", "hour")),
    SINCE,
    UNTIL,
    Param("by", "Split by carrier.", enum=("carrier",)),
)
MESSAGES = (
    Param("mid", "One message by its id.", example="4C36654382720005"),
    Param("mobile", "Messages to this number.", example="13800138000"),
    SINCE,
    UNTIL,
    LIMIT,
    Param("offset", "Skip this many (newest first).", example="0"),
)
LEDGER = (
    Param("before", "Entries older than this entry id (the answer's next_before).", example="1234"),
    LIMIT,
    SINCE,
    UNTIL,
    Param("reason", "Only this kind of entry.", enum=("send", "refund", "recharge")),
)
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
    CustomerEndpoint("/customer/callbacks", ("POST",), _set_callbacks,
                     "Set the push callback URLs (the answer shows a new signing secret once)",
                     (*AUTH_PARAMS, *CALLBACKS)),
    CustomerEndpoint("/customer/callbacks", ("GET",), _show_callbacks,
                     "Show the push callback URLs", AUTH_PARAMS),
    CustomerEndpoint("/customer/callbacks/show", ("POST",), _show_callbacks,
                     "Show the push callback URLs", AUTH_PARAMS),
    CustomerEndpoint("/customer/stats", ("GET", "POST"), _stats,
                     "Delivery statistics per day or hour", (*AUTH_PARAMS, *STATS)),
    CustomerEndpoint("/customer/messages", ("GET", "POST"), _messages,
                     "Messages with their history, by mid or by mobile and time",
                     (*AUTH_PARAMS, *MESSAGES)),
    CustomerEndpoint("/customer/ledger", ("GET", "POST"), _ledger,
                     "Charges, refunds and recharges with the balance after each, paged",
                     (*AUTH_PARAMS, *LEDGER)),
)  # fmt: skip


def customer_routes() -> list[Route]:
    return [
        Route(e.path, _endpoint(e.handler), methods=list(e.methods)) for e in CUSTOMER_ENDPOINTS
    ]
