"""Operator REST (``/admin/...``): accounts, channels, routes, recharges, the audit log,
and the policy: review of signatures and templates, blacklist, opt-outs, sensitive
words, frequency limits, default signatures.

Authenticated with an operator token (``Authorization: Bearer dxop_...``, from
``duanxin init``); every change is audited under the token's name. The web console
(:mod:`duanxin.console`) calls the same service functions.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from duanxin.api.bodies import BodyTooLarge, read_body
from duanxin.api.responses import json_response
from duanxin.domain.accounts import AccessType
from duanxin.domain.billing import ChargeType
from duanxin.domain.reports import LongReport
from duanxin.service import admin, lists, review
from duanxin.service.platform import Platform

__all__ = ["operator_name", "operator_routes"]

MAX_JSON_BODY = 64 * 1024
MAX_IMPORT_BODY = 16 * 1024 * 1024  # a blacklist or word file
AUDIT_PAGE = 100

Endpoint = Callable[[Request, Platform, str], Awaitable[Any]]


class OperatorError(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


async def operator_name(request: Request, platform: Platform) -> str:
    """The name of the operator token presented, or raise 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise OperatorError(401, "operator token required: Authorization: Bearer <token>")
    name = await admin.operator_for_token(platform, token.strip())
    if name is None:
        raise OperatorError(401, "unknown operator token")
    return name


async def _body(request: Request) -> dict[str, Any]:
    try:
        raw = await read_body(request, MAX_JSON_BODY)
    except BodyTooLarge as error:
        raise OperatorError(413, error.msg) from None
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
            return json_response(await handler(request, platform, actor))
        except OperatorError as error:
            return json_response({"error": error.message}, error.status_code)
        except LookupError as error:
            return json_response({"error": str(error).strip("'\"")}, 404)
        except (ValueError, TypeError) as error:
            return json_response({"error": str(error)}, 400)

    return endpoint


async def _accounts(request: Request, platform: Platform, actor: str) -> Any:
    return [_account_view(a) for a in await admin.list_accounts(platform)]


def _account_view(account: Any) -> dict[str, Any]:
    view = asdict(account)
    view.pop("password")
    return view


async def _account(request: Request, platform: Platform, actor: str) -> Any:
    try:
        found = await admin.find_account(platform, request.path_params["account"])
    except LookupError:
        raise LookupError("no such account") from None
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
        default_kind=admin.default_kind(body.get("default_kind")),
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
        max_connections=int(body.get("max_connections", 1)),
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
    query = request.query_params
    return await lists.audit_list(
        platform,
        _limit(query.get("limit"), AUDIT_PAGE),
        actor=query.get("actor") or None,
        action=query.get("action") or None,
    )


def _limit(raw: str | None, default: int, most: int = 10_000) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= most:
        raise OperatorError(400, f"limit must be 1 to {most}")
    return int(raw)


async def _text_body(request: Request) -> str:
    """An uploaded file (blacklist numbers, word list) as the raw request body, UTF-8."""
    try:
        raw = await read_body(request, MAX_IMPORT_BODY)
    except BodyTooLarge:
        raise OperatorError(413, f"file too large, at most {MAX_IMPORT_BODY} bytes") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise OperatorError(400, "file must be UTF-8 text") from None


# ------------------------------------------------------------ policy: review queue


def _review(kind: str) -> tuple[Endpoint, Endpoint, Endpoint]:
    listing = review.list_signatures if kind == "signatures" else review.list_templates
    approve = review.approve_signature if kind == "signatures" else review.approve_template
    reject = review.reject_signature if kind == "signatures" else review.reject_template

    async def list_(request: Request, platform: Platform, actor: str) -> Any:
        query = request.query_params
        return await listing(platform, query.get("account") or None, query.get("state") or None)

    async def approve_(request: Request, platform: Platform, actor: str) -> Any:
        return await approve(platform, request.path_params["id"], actor)

    async def reject_(request: Request, platform: Platform, actor: str) -> Any:
        body = await _body(request)
        return await reject(platform, request.path_params["id"], str(body.get("reason", "")), actor)

    return list_, approve_, reject_


async def _default_signature(request: Request, platform: Platform, actor: str) -> Any:
    body = await _body(request)
    account = request.path_params["account"]
    signature = await review.set_default_signature(
        platform, account, str(body.get("signature", "")), actor
    )
    return {"account": account, "default_signature": signature}


# -------------------------------------------------------- policy: blacklist, opt-outs


def _mobiles(body: dict[str, Any]) -> list[str]:
    mobiles = body.get("mobiles")
    if not isinstance(mobiles, list) or not all(isinstance(m, str) for m in mobiles):
        raise OperatorError(400, "mobiles must be a list of numbers (strings)")
    return mobiles


async def _blacklist(request: Request, platform: Platform, actor: str) -> Any:
    query = request.query_params
    offset = query.get("offset", "0")
    if not offset.isdigit():
        raise OperatorError(400, "offset must be a whole number")
    total, rows = await lists.blacklist_list(
        platform, _limit(query.get("limit"), 1000), int(offset)
    )
    return {"total": total, "list": rows}


async def _blacklist_add(request: Request, platform: Platform, actor: str) -> Any:
    body = await _body(request)
    done = await lists.blacklist_add(platform, _mobiles(body), actor, str(body.get("reason", "")))
    return asdict(done)


async def _blacklist_import(request: Request, platform: Platform, actor: str) -> Any:
    text = await _text_body(request)
    reason = request.query_params.get("reason", "")
    return asdict(await lists.blacklist_import(platform, text, actor, reason))


async def _blacklist_remove(request: Request, platform: Platform, actor: str) -> Any:
    removed = await lists.blacklist_remove(platform, [request.path_params["mobile"]], actor)
    if not removed:
        raise LookupError("number is not on the blacklist")
    return {"removed": removed}


async def _optouts(request: Request, platform: Platform, actor: str) -> Any:
    return await lists.optout_list(platform, request.path_params["account"])


async def _optout_add(request: Request, platform: Platform, actor: str) -> Any:
    body = await _body(request)
    return asdict(
        await lists.optout_add(platform, request.path_params["account"], _mobiles(body), actor)
    )


async def _optout_remove(request: Request, platform: Platform, actor: str) -> Any:
    account, mobile = request.path_params["account"], request.path_params["mobile"]
    removed = await lists.optout_remove(platform, account, [mobile], actor)
    if not removed:
        raise LookupError("number is not on this account's opt-out list")
    return {"removed": removed}


# ------------------------------------------------------------ policy: sensitive words


async def _words(request: Request, platform: Platform, actor: str) -> Any:
    categories = await lists.words_categories(platform)
    listing: dict[str, Any] = {"total": sum(categories.values()), "categories": categories}
    if request.query_params.get("words") in ("1", "true"):
        category = request.query_params.get("category") or None
        listing["words"] = await lists.words_list(platform, category)
    return listing


async def _words_add(request: Request, platform: Platform, actor: str) -> Any:
    body = await _body(request)
    word = _required(body, "word")
    added = await lists.words_add(platform, word, actor, str(body.get("category", "default")))
    return {"added": added}


async def _words_import(request: Request, platform: Platform, actor: str) -> Any:
    text = await _text_body(request)
    category = request.query_params.get("category") or "default"
    return {"added": await lists.words_import(platform, text, actor, category)}


async def _words_remove(request: Request, platform: Platform, actor: str) -> Any:
    body = await _body(request)
    words = body.get("words")
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
        raise OperatorError(400, "words must be a list of strings")
    return {"removed": await lists.words_remove(platform, words, actor)}


# ----------------------------------------------------------- policy: frequency limits


async def _frequency(request: Request, platform: Platform, actor: str) -> Any:
    return await lists.frequency_show(platform, request.path_params["account"])


async def _frequency_set(request: Request, platform: Platform, actor: str) -> Any:
    """Body: ``{"verification": "1/min, 5/hour", "platform": null, ...}`` (null: default)."""
    body = await _body(request)
    if not body:
        raise OperatorError(400, f"give limits for one of {', '.join(lists.FREQUENCY_SCOPES)}")
    for scope, limits in body.items():
        if limits is not None and not isinstance(limits, str):
            raise OperatorError(400, f"{scope}: limits are text like '1/min, 5/hour' or null")
        if scope not in lists.FREQUENCY_SCOPES:
            raise OperatorError(400, f"unknown scope {scope!r}")
    account = request.path_params["account"]
    shown: Any = None
    for scope, limits in body.items():
        shown = await lists.frequency_set(platform, account, scope, limits, actor)
    return shown


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
        *_policy_routes(),
    ]


def _policy_routes() -> list[Route]:
    routes = []
    for kind in ("signatures", "templates"):
        list_, approve, reject = _review(kind)
        routes += [
            Route(f"/admin/{kind}", _endpoint(list_), methods=["GET"]),
            Route(f"/admin/{kind}/{{id:int}}/approve", _endpoint(approve), methods=["POST"]),
            Route(f"/admin/{kind}/{{id:int}}/reject", _endpoint(reject), methods=["POST"]),
        ]
    return [
        *routes,
        Route(
            "/admin/accounts/{account}/default-signature",
            _endpoint(_default_signature),
            methods=["PUT"],
        ),
        Route("/admin/blacklist", _endpoint(_blacklist), methods=["GET"]),
        Route("/admin/blacklist", _endpoint(_blacklist_add), methods=["POST"]),
        Route("/admin/blacklist/import", _endpoint(_blacklist_import), methods=["POST"]),
        Route("/admin/blacklist/{mobile}", _endpoint(_blacklist_remove), methods=["DELETE"]),
        Route("/admin/optouts/{account}", _endpoint(_optouts), methods=["GET"]),
        Route("/admin/optouts/{account}", _endpoint(_optout_add), methods=["POST"]),
        Route("/admin/optouts/{account}/{mobile}", _endpoint(_optout_remove), methods=["DELETE"]),
        Route("/admin/words", _endpoint(_words), methods=["GET"]),
        Route("/admin/words", _endpoint(_words_add), methods=["POST"]),
        Route("/admin/words/import", _endpoint(_words_import), methods=["POST"]),
        Route("/admin/words/remove", _endpoint(_words_remove), methods=["POST"]),
        Route("/admin/frequency/{account}", _endpoint(_frequency), methods=["GET"]),
        Route("/admin/frequency/{account}", _endpoint(_frequency_set), methods=["PUT"]),
    ]
