"""Operator REST (``/admin/...``): accounts, channels, routes, recharges, the audit log.

Authenticated with an operator token (``Authorization: Bearer dxop_...``, from
``duanxin init``); every change is audited under the token's name. The console uses these.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from sqlalchemy import select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from duanxin.domain.accounts import AccessType
from duanxin.domain.billing import ChargeType
from duanxin.domain.reports import LongReport
from duanxin.service import admin
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store
from duanxin.store.tables import audit_log, operator_tokens

__all__ = ["operator_name", "operator_routes"]

JSON_TYPE = "application/json; charset=utf-8"
MAX_JSON_BODY = 64 * 1024
AUDIT_PAGE = 100

Endpoint = Callable[[Request, Platform, str], Awaitable[Any]]


class OperatorError(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def _json(document: Any, status_code: int = 200) -> Response:
    body = json.dumps(document, ensure_ascii=False, default=str).encode()
    return Response(body, status_code=status_code, media_type=JSON_TYPE)


async def operator_name(request: Request, platform: Platform) -> str:
    """The name of the operator token presented, or raise 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise OperatorError(401, "operator token required: Authorization: Bearer <token>")
    digest = hashlib.sha256(token.strip().encode()).hexdigest()
    async with platform.engine.connect() as conn:
        row = (
            await conn.execute(
                select(operator_tokens.c.name).where(operator_tokens.c.token_hash == digest)
            )
        ).first()
    if row is None:
        raise OperatorError(401, "unknown operator token")
    return str(row[0])


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_JSON_BODY:
        raise OperatorError(413, "body too large")
    try:
        document = json.loads(raw or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise OperatorError(400, "body must be a JSON object") from None
    if not isinstance(document, dict):
        raise OperatorError(400, "body must be a JSON object")
    return document


def _required(document: dict[str, Any], name: str, kind: type = str) -> Any:
    value = document.get(name)
    if not isinstance(value, kind) or (isinstance(value, str) and not value):
        raise OperatorError(400, f"{name} is required ({kind.__name__})")
    return value


def _endpoint(handler: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        platform: Platform = request.app.state.platform
        try:
            actor = await operator_name(request, platform)
            return _json(await handler(request, platform, actor))
        except OperatorError as error:
            return _json({"error": error.message}, error.status_code)
        except LookupError as error:
            return _json({"error": str(error).strip("'\"")}, 404)
        except (ValueError, TypeError) as error:
            return _json({"error": str(error)}, 400)

    return endpoint


async def _accounts(request: Request, platform: Platform, actor: str) -> Any:
    async with platform.engine.connect() as conn:
        found = await account_store.list_accounts(conn)
    return [_account_view(a) for a in found]


def _account_view(account: Any) -> dict[str, Any]:
    view = asdict(account)
    view.pop("password")
    return view


async def _account(request: Request, platform: Platform, actor: str) -> Any:
    async with platform.engine.connect() as conn:
        found = await account_store.find_account(conn, request.path_params["account"])
    if found is None:
        raise LookupError("no such account")
    return _account_view(found)


async def _create_account(request: Request, platform: Platform, actor: str) -> Any:
    body = await _body(request)
    customer = _required(body, "customer")
    spec = admin.AccountSpec(
        account=_required(body, "account"),
        password=_required(body, "password"),
        spid=str(body.get("spid", "000000")),
        extno=str(body.get("extno", "")),
        charge_type=ChargeType(body.get("charge_type", ChargeType.PRECHARGE.value)),
        access_type=AccessType(body.get("access_type", AccessType.HTTP.value)),
        default_signature=str(body.get("default_signature", "")),
    )
    customer_id, key = await admin.find_or_create_customer(platform, customer, actor)
    await admin.create_account(platform, customer_id, spec, actor)
    created: dict[str, Any] = {"account": spec.account, "customer": customer}
    if key is not None:
        created.update(secret_id=key.secret_id, secret_key=key.secret_key)
    return created


async def _update_account(request: Request, platform: Platform, actor: str) -> Any:
    changes = await _body(request)
    updated = await admin.set_account(platform, request.path_params["account"], changes, actor)
    return _account_view(updated)


async def _recharge(request: Request, platform: Platform, actor: str) -> Any:
    body = await _body(request)
    amount = _required(body, "amount", int)
    balance = await admin.recharge(
        platform, request.path_params["account"], amount, actor, str(body.get("note", ""))
    )
    return {"account": request.path_params["account"], "balance": balance}


async def _channels(request: Request, platform: Platform, actor: str) -> Any:
    return await admin.list_channels(platform)


async def _add_channel(request: Request, platform: Platform, actor: str) -> Any:
    body = await _body(request)
    spec = admin.ChannelSpec(
        name=_required(body, "name"),
        protocol=_required(body, "protocol"),
        host=_required(body, "host"),
        port=_required(body, "port", int),
        account=_required(body, "account"),
        password=_required(body, "password"),
        access_code=_required(body, "access_code"),
        service_id=str(body.get("service_id", "")),
        sp_code=str(body.get("sp_code", "")),
        version=body.get("version"),
        window=int(body.get("window", 16)),
        tps=int(body.get("tps", 0)),
        long_report=LongReport(body.get("long_report", LongReport.ALL.value)),
        settings=body.get("settings") or {},
    )
    return {"id": await admin.add_channel(platform, spec, actor), "name": spec.name}


async def _channel_state(request: Request, platform: Platform, actor: str) -> Any:
    enabled = request.path_params["action"] == "enable"
    await admin.set_channel_enabled(platform, request.path_params["name"], enabled, actor)
    return {"name": request.path_params["name"], "enabled": enabled}


async def _set_route(request: Request, platform: Platform, actor: str) -> Any:
    body = await _body(request)
    names = body.get("channels")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise OperatorError(400, "channels must be a list of channel names")
    account, carrier = request.path_params["account"], request.path_params["carrier"]
    await admin.add_route(platform, account, carrier, names, actor)
    return {"account": account, "carrier": carrier, "channels": names}


async def _audit(request: Request, platform: Platform, actor: str) -> Any:
    async with platform.engine.connect() as conn:
        rows = await conn.execute(
            select(audit_log).order_by(audit_log.c.id.desc()).limit(AUDIT_PAGE)
        )
        return [dict(row) for row in rows.mappings()]


def operator_routes() -> list[Route]:
    return [
        Route("/admin/accounts", _endpoint(_accounts), methods=["GET"]),
        Route("/admin/accounts", _endpoint(_create_account), methods=["POST"]),
        Route("/admin/accounts/{account}", _endpoint(_account), methods=["GET"]),
        Route("/admin/accounts/{account}", _endpoint(_update_account), methods=["PATCH"]),
        Route("/admin/accounts/{account}/recharge", _endpoint(_recharge), methods=["POST"]),
        Route("/admin/channels", _endpoint(_channels), methods=["GET"]),
        Route("/admin/channels", _endpoint(_add_channel), methods=["POST"]),
        Route("/admin/channels/{name}/{action:str}", _endpoint(_channel_state), methods=["POST"]),
        Route("/admin/routes/{account}/{carrier}", _endpoint(_set_route), methods=["PUT"]),
        Route("/admin/audit", _endpoint(_audit), methods=["GET"]),
    ]
