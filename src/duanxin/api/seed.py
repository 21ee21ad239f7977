"""The four endpoints of the published API page (SPEC 2.4–2.7), at ``/x`` and ``/release/x``.

Each handler reads the parameters, checks their syntax, calls the service and renders its
typed outcome (:mod:`duanxin.api.render`); refusals of the parameters are rendered the same
way, in each endpoint's own failure shape.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from duanxin.api.bodies import read_body
from duanxin.api.gateway import GatewayRefusal, caller_for
from duanxin.api.params import (
    ParamError,
    check_action,
    check_content,
    check_extno,
    check_idempotency_key,
    check_rt,
    check_version,
    mo_size,
    parse_mobiles,
    parse_params,
    parse_sendtime,
    report_size,
)
from duanxin.api.render import render_balance, render_pull, render_send
from duanxin.api.responses import json_response
from duanxin.api.wire_models import (
    BALANCE_PARAMS,
    MO_PARAMS,
    REPORT_PARAMS,
    SEND_PARAMS,
    BalanceAnswer,
    Param,
    PullAnswer,
    SendAnswer,
)
from duanxin.domain.numbers import normalise_mobile
from duanxin.domain.status import Status, StatusError
from duanxin.service import pull
from duanxin.service.accounts import Caller
from duanxin.service.platform import Platform
from duanxin.service.results import BalanceOutcome, PullOutcome, SendOutcome
from duanxin.service.send import SendRequest, send

__all__ = [
    "METHODS",
    "PREFIXES",
    "SEED_ENDPOINTS",
    "Endpoint",
    "SeedEndpoint",
    "seed_endpoints",
    "seed_routes",
]

log = logging.getLogger(__name__)
Handler = Callable[[Request, Platform, dict[str, str], Caller], Awaitable[bytes]]
Endpoint = Callable[[Request], Awaitable[Response]]


def _failure(shape: str, status: Status, msg: str) -> bytes:
    error = StatusError(status, msg)
    if shape == "overage":
        return render_balance(BalanceOutcome.failure(error))
    if shape == "send":
        return render_send(SendOutcome.failure(error))
    return render_pull(PullOutcome.failure(error))


def _credentials(params: Mapping[str, str]) -> pull.Credentials:
    return pull.Credentials(params.get("account", "").strip(), params.get("password", ""))


async def _send(
    request: Request, platform: Platform, params: dict[str, str], caller: Caller
) -> bytes:
    check_action(params.get("action"), "send")
    check_rt(params.get("rt"))
    entries = parse_mobiles(params.get("mobile"), normalise=normalise_mobile)
    send_request = SendRequest(
        account=params.get("account", "").strip(),
        password=params.get("password", ""),
        mobiles=[e.normalised or e.raw for e in entries],
        content=check_content(params.get("content")),
        extno=check_extno(params.get("extno")) or "",
        sendtime=parse_sendtime(params.get("sendtime"), platform.clock()),
        idempotency_key=check_idempotency_key(
            request.headers.get("idempotency-key") or params.get("reqid")
        ),
    )
    return render_send(await send(platform, send_request, caller))


async def _overage(
    request: Request, platform: Platform, params: dict[str, str], caller: Caller
) -> bytes:
    check_action(params.get("action"), "balance")
    check_rt(params.get("rt"))
    content = params.get("content")
    return render_balance(
        await pull.balance(platform, _credentials(params), caller, content or None)
    )


async def _report(
    request: Request, platform: Platform, params: dict[str, str], caller: Caller
) -> bytes:
    check_action(params.get("action"), "report")
    check_rt(params.get("rt"))
    outcome = await pull.pull_reports(platform, _credentials(params), caller, report_size(params))
    return render_pull(outcome)


async def _mo(
    request: Request, platform: Platform, params: dict[str, str], caller: Caller
) -> bytes:
    check_action(params.get("action"), "mo")
    check_rt(params.get("rt"))
    return render_pull(
        await pull.pull_replies(platform, _credentials(params), caller, mo_size(params))
    )


def _endpoint(shape: str, handler: Handler) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        platform: Platform = request.app.state.platform
        try:
            caller = await caller_for(request, platform, datetime.now().astimezone())
        except GatewayRefusal as refusal:
            return json_response(refusal.body, 401)
        try:
            limit = platform.settings.max_body_bytes
            body = await read_body(request, limit)
            params = parse_params(
                body,
                request.headers.get("content-type"),
                request.scope.get("query_string", b""),  # as sent; building request.url costs
                max_body=limit,
            )
            check_version(params.get("version"))
            return json_response(await handler(request, platform, params, caller))
        except ParamError as error:
            return json_response(_failure(shape, Status(error.status), error.msg))
        except ClientDisconnect:
            raise  # nobody to answer: logged by the request guard
        except Exception:
            log.exception("%s failed", request.url.path)
            return json_response(_failure(shape, Status.INTERNAL, "internal error"))

    return endpoint


@dataclass(frozen=True, slots=True)
class SeedEndpoint:
    """One published endpoint: routed at ``/<name>`` and ``/release/<name>``, GET and POST,
    and documented (:mod:`duanxin.api.openapi`) from the same declaration."""

    name: str
    shape: str
    handler: Handler
    summary: str
    params: tuple[Param, ...]
    answer: type[BaseModel]


PREFIXES = ("", "/release")
METHODS = ("POST", "GET")
SEED_ENDPOINTS = (
    SeedEndpoint("smssend", "send", _send, "Send SMS", SEND_PARAMS, SendAnswer),
    SeedEndpoint("smsoverage", "overage", _overage, "Balance", BALANCE_PARAMS, BalanceAnswer),
    SeedEndpoint("smsreport", "report", _report, "Pull delivery reports", REPORT_PARAMS,
                 PullAnswer),
    SeedEndpoint("smsmo", "mo", _mo, "Pull replies (MO)", MO_PARAMS, PullAnswer),
)  # fmt: skip


def seed_endpoints() -> dict[str, Endpoint]:
    """Each path of the published endpoints (``/smssend``, ``/release/smssend`` ...) and
    its endpoint, answering GET and POST."""
    paths = {}
    for seed in SEED_ENDPOINTS:
        endpoint = _endpoint(seed.shape, seed.handler)
        for prefix in PREFIXES:
            paths[f"{prefix}/{seed.name}"] = endpoint
    return paths


def seed_routes(endpoints: dict[str, Endpoint] | None = None) -> list[Route]:
    return [
        Route(path, endpoint, methods=list(METHODS))
        for path, endpoint in (endpoints or seed_endpoints()).items()
    ]
