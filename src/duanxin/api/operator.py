"""Operator REST (``/admin/...``): accounts, API keys and operator tokens, channels,
routes, recharges, the audit log, and the policy: review of signatures and templates,
blacklist, opt-outs, sensitive words, frequency limits, default signatures; push callbacks,
statistics, message lookup and ledgers (:mod:`duanxin.api.admin_insight`).

Authenticated with an operator token (``Authorization: Bearer dxop_...``, from
``duanxin init`` or ``duanxin token create``); every change is audited under the token's
name. Bodies and queries are the models of :mod:`duanxin.api.admin_models`; refusals
have the shape of :mod:`duanxin.api.errors`. The operations are declared once
(:data:`OPERATIONS`): the routes and the OpenAPI document both come from them. The web
console (:mod:`duanxin.console`) calls the same service functions.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from duanxin.api import admin_models as m
from duanxin.api.admin_insight import INSIGHT_OPERATIONS
from duanxin.api.errors import RestError
from duanxin.api.rest import Call, Operation, routes
from duanxin.domain.accounts import Account
from duanxin.logs import note_account
from duanxin.service import admin, keys, lists, review
from duanxin.service.platform import Platform

__all__ = ["OPERATIONS", "operator_name", "operator_routes"]


async def operator_name(request: Request, platform: Platform) -> str:
    """The name of the operator token presented, or raise 401."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise RestError(401, "operator token required: Authorization: Bearer <token>")
    name = await admin.operator_for_token(platform, token.strip())
    if name is None:
        raise RestError(401, "unknown operator token")
    note_account(f"operator:{name}")
    return name


def _account_view(account: Account) -> dict[str, Any]:
    view = asdict(account)
    view.pop("password")
    return view


# ------------------------------------------------------------------- accounts


async def _accounts(call: Call[Any, Any]) -> Any:
    return [_account_view(a) for a in await admin.list_accounts(call.platform)]


async def _account(call: Call[Any, Any]) -> Any:
    return _account_view(await admin.find_account(call.platform, call.path["account"]))


async def _create_account(call: Call[m.AccountCreate, Any]) -> Any:
    body = call.body
    spec = admin.AccountSpec(
        account=body.account,
        password=body.password,
        spid=body.spid,
        extno=body.extno,
        charge_type=body.charge_type,
        access_type=body.access_type,
        default_signature=body.default_signature,
        default_kind=body.default_kind,
    )
    opened = await admin.open_account(call.platform, body.customer, spec, call.actor)
    created: dict[str, Any] = {"account": opened.account, "customer": opened.customer}
    if opened.key is not None:
        created.update(secret_id=opened.key.secret_id, secret_key=opened.key.secret_key)
    return created


async def _update_account(call: Call[m.AccountPatch, Any]) -> Any:
    changes = call.body.model_dump(mode="json", exclude_unset=True)
    if not changes:
        raise RestError(422, "nothing to change: give at least one field")
    updated = await admin.set_account(call.platform, call.path["account"], changes, call.actor)
    return _account_view(updated)


async def _recharge(call: Call[m.Recharge, Any]) -> Any:
    account = call.path["account"]
    balance = await admin.recharge(
        call.platform, account, call.body.amount, call.actor, call.body.note
    )
    return {"account": account, "balance": balance}


async def _default_signature(call: Call[m.DefaultSignature, Any]) -> Any:
    account = call.path["account"]
    signature = await review.set_default_signature(
        call.platform, account, call.body.signature, call.actor
    )
    return {"account": account, "default_signature": signature}


# --------------------------------------------------------------- keys, tokens


async def _keys(call: Call[Any, m.KeyQuery]) -> Any:
    return await keys.list_keys(call.platform, call.query.customer)


async def _issue_key(call: Call[m.KeyIssue, Any]) -> Any:
    return await keys.issue_key(call.platform, call.body.customer, call.actor, call.body.expires_at)


async def _revoke_key(call: Call[Any, Any]) -> Any:
    return await keys.revoke_key(call.platform, call.path["secret_id"], call.actor)


async def _tokens(call: Call[Any, Any]) -> Any:
    return await keys.list_tokens(call.platform)


async def _create_token(call: Call[m.TokenCreate, Any]) -> Any:
    token = await admin.create_operator_token(call.platform, call.body.name)
    return {"token": token, "name": call.body.name}


async def _revoke_token(call: Call[Any, Any]) -> Any:
    return await keys.revoke_token(call.platform, call.path["id"], call.actor)


# ----------------------------------------------------------- channels, routes


async def _channels(call: Call[Any, Any]) -> Any:
    return await admin.list_channels(call.platform)


async def _channel(call: Call[Any, Any]) -> Any:
    name = call.path["name"]
    found = [c for c in await admin.list_channels(call.platform) if c["name"] == name]
    if not found:
        raise RestError(404, f"no channel {name!r}")
    return found[0]


async def _add_channel(call: Call[m.ChannelCreate, Any]) -> Any:
    body = call.body
    spec = admin.ChannelSpec(
        name=body.name,
        protocol=body.protocol,
        host=body.host,
        port=body.port,
        account=body.account,
        password=body.password,
        access_code=body.access_code,
        service_id=body.service_id,
        sp_code=body.sp_code,
        version=body.version,
        window=body.window,
        tps=body.tps,
        max_connections=body.max_connections,
        long_report=body.long_report,
        settings=body.settings.model_dump(mode="json", exclude_none=True),
    )
    return {"id": await admin.add_channel(call.platform, spec, call.actor), "name": spec.name}


async def _edit_channel(call: Call[m.ChannelPatch, Any]) -> Any:
    changes = call.body.model_dump(mode="json", exclude_unset=True)
    if call.body.settings is not None:
        changes["settings"] = call.body.settings.model_dump(mode="json", exclude_none=True)
    if not changes:
        raise RestError(422, "nothing to change: give at least one field")
    return await admin.edit_channel(call.platform, call.path["name"], changes, call.actor)


async def _remove_channel(call: Call[Any, Any]) -> Any:
    await admin.remove_channel(call.platform, call.path["name"], call.actor)
    return {"name": call.path["name"], "removed": True}


def _channel_state(enabled: bool) -> Any:
    async def handler(call: Call[Any, Any]) -> Any:
        await admin.set_channel_enabled(call.platform, call.path["name"], enabled, call.actor)
        return {"name": call.path["name"], "enabled": enabled}

    return handler


async def _set_route(call: Call[m.RouteSet, Any]) -> Any:
    account, carrier = call.path["account"], call.path["carrier"]
    await admin.add_route(call.platform, account, carrier, call.body.channels, call.actor)
    return {"account": account, "carrier": carrier, "channels": call.body.channels}


async def _audit(call: Call[Any, m.AuditQuery]) -> Any:
    query = call.query
    return await lists.audit_list(
        call.platform, query.limit, actor=query.actor or None, action=query.action or None
    )


# ------------------------------------------------------------ policy: review


def _review(kind: str) -> tuple[Any, Any, Any]:
    listing = review.list_signatures if kind == "signatures" else review.list_templates
    approve = review.approve_signature if kind == "signatures" else review.approve_template
    reject = review.reject_signature if kind == "signatures" else review.reject_template

    async def list_(call: Call[Any, m.ReviewQuery]) -> Any:
        return await listing(call.platform, call.query.account, call.query.state)

    async def approve_(call: Call[Any, Any]) -> Any:
        return await approve(call.platform, call.path["id"], call.actor)

    async def reject_(call: Call[m.Reject, Any]) -> Any:
        return await reject(call.platform, call.path["id"], call.body.reason, call.actor)

    return list_, approve_, reject_


# ------------------------------------------------- policy: blacklist, opt-outs


async def _blacklist(call: Call[Any, m.BlacklistQuery]) -> Any:
    total, rows = await lists.blacklist_list(call.platform, call.query.limit, call.query.offset)
    return {"total": total, "list": rows}


async def _blacklist_add(call: Call[m.BlacklistAdd, Any]) -> Any:
    body = call.body
    return asdict(await lists.blacklist_add(call.platform, body.mobiles, call.actor, body.reason))


async def _blacklist_import(call: Call[Any, m.ImportQuery]) -> Any:
    done = await lists.blacklist_import(call.platform, call.text, call.actor, call.query.reason)
    return asdict(done)


async def _blacklist_remove(call: Call[Any, Any]) -> Any:
    removed = await lists.blacklist_remove(call.platform, [call.path["mobile"]], call.actor)
    if not removed:
        raise RestError(404, "number is not on the blacklist")
    return {"removed": removed}


async def _optouts(call: Call[Any, Any]) -> Any:
    return await lists.optout_list(call.platform, call.path["account"])


async def _optout_add(call: Call[m.Mobiles, Any]) -> Any:
    account = call.path["account"]
    return asdict(await lists.optout_add(call.platform, account, call.body.mobiles, call.actor))


async def _optout_import(call: Call[Any, Any]) -> Any:
    account = call.path["account"]
    return asdict(await lists.optout_import(call.platform, account, call.text, call.actor))


async def _optout_remove(call: Call[Any, Any]) -> Any:
    account, mobile = call.path["account"], call.path["mobile"]
    removed = await lists.optout_remove(call.platform, account, [mobile], call.actor)
    if not removed:
        raise RestError(404, "number is not on this account's opt-out list")
    return {"removed": removed}


# --------------------------------------------------- policy: words, frequency


async def _words(call: Call[Any, m.WordsQuery]) -> Any:
    categories = await lists.words_categories(call.platform)
    listing: dict[str, Any] = {"total": sum(categories.values()), "categories": categories}
    if call.query.words:
        listing["words"] = await lists.words_list(call.platform, call.query.category)
    return listing


async def _words_add(call: Call[m.WordAdd, Any]) -> Any:
    body = call.body
    return {"added": await lists.words_add(call.platform, body.word, call.actor, body.category)}


async def _words_import(call: Call[Any, m.ImportQuery]) -> Any:
    query = call.query
    added = await lists.words_import(
        call.platform, call.text, call.actor, query.category, csv=query.csv
    )
    return {"added": added}


async def _words_remove(call: Call[m.WordsRemove, Any]) -> Any:
    return {"removed": await lists.words_remove(call.platform, call.body.words, call.actor)}


async def _frequency(call: Call[Any, Any]) -> Any:
    return await lists.frequency_show(call.platform, call.path["account"])


async def _frequency_set(call: Call[m.FrequencyPatch, Any]) -> Any:
    changes = call.body.model_dump(exclude_unset=True)
    if not changes:
        raise RestError(422, f"give limits for one of {', '.join(lists.FREQUENCY_SCOPES)}")
    account = call.path["account"]
    await admin.find_account(call.platform, account)  # 404 before any change
    shown: Any = None
    for scope, limits in changes.items():
        shown = await lists.frequency_set(call.platform, account, scope, limits, call.actor)
    return shown


# ------------------------------------------------------------------ the table

A, CH, K, P = "accounts", "channels", "keys", "policy"
ANY_LIST = list[dict[str, Any]]


def _review_operations() -> list[Operation]:
    operations = []
    for kind in ("signatures", "templates"):
        list_, approve, reject = _review(kind)
        one = kind[:-1]
        operations += [
            Operation("GET", f"/admin/{kind}", list_, f"List {kind}", P, query=m.ReviewQuery,
                      answer=ANY_LIST),
            Operation("POST", f"/admin/{kind}/{{id:int}}/approve", approve, f"Approve a {one}",
                      P, errors=(404, 409)),
            Operation("POST", f"/admin/{kind}/{{id:int}}/reject", reject, f"Reject a {one}", P,
                      body=m.Reject, errors=(404, 409)),
        ]  # fmt: skip
    return operations


OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/admin/accounts", _accounts, "List accounts", A,
              answer=list[m.AccountView]),
    Operation("POST", "/admin/accounts", _create_account, "Create an account", A,
              body=m.AccountCreate, answer=m.AccountCreated, errors=(409,),
              description="The customer is created with its first API key when new."),
    Operation("GET", "/admin/accounts/{account}", _account, "Show an account", A,
              answer=m.AccountView, errors=(404,)),
    Operation("PATCH", "/admin/accounts/{account}", _update_account, "Change an account", A,
              body=m.AccountPatch, answer=m.AccountView, errors=(404,)),
    Operation("POST", "/admin/accounts/{account}/recharge", _recharge, "Recharge an account",
              A, body=m.Recharge, answer=m.Balance, errors=(404,)),
    Operation("PUT", "/admin/accounts/{account}/default-signature", _default_signature,
              "Set an account's default signature", P, body=m.DefaultSignature,
              errors=(404,)),
    Operation("GET", "/admin/keys", _keys, "List API keys", K, query=m.KeyQuery,
              answer=list[keys.KeyInfo], errors=(404,)),
    Operation("POST", "/admin/keys", _issue_key, "Issue an API key", K, body=m.KeyIssue,
              answer=keys.IssuedKey, errors=(404,),
              description="The SecretKey is in this answer only."),
    Operation("POST", "/admin/keys/{secret_id}/revoke", _revoke_key, "Revoke an API key", K,
              answer=keys.KeyInfo, errors=(404, 409)),
    Operation("GET", "/admin/tokens", _tokens, "List operator tokens", K,
              answer=list[keys.TokenInfo]),
    Operation("POST", "/admin/tokens", _create_token, "Create an operator token", K,
              body=m.TokenCreate, answer=m.TokenCreated),
    Operation("POST", "/admin/tokens/{id}/revoke", _revoke_token, "Revoke an operator token",
              K, answer=keys.TokenInfo, errors=(404, 409)),
    Operation("GET", "/admin/channels", _channels, "List channels", CH,
              answer=list[m.ChannelView]),
    Operation("POST", "/admin/channels", _add_channel, "Add a channel", CH,
              body=m.ChannelCreate, answer=m.ChannelCreated, errors=(409,)),
    Operation("GET", "/admin/channels/{name}", _channel, "Show a channel", CH,
              answer=m.ChannelView, errors=(404,)),
    Operation("PATCH", "/admin/channels/{name}", _edit_channel, "Change a channel", CH,
              body=m.ChannelPatch, answer=m.ChannelView, errors=(404,),
              description="A running platform uses the change once restarted."),
    Operation("DELETE", "/admin/channels/{name}", _remove_channel, "Remove a channel", CH,
              errors=(404, 409),
              description="Its routes go too; a channel that carried messages can only be "
              "disabled (409)."),
    Operation("POST", "/admin/channels/{name}/enable", _channel_state(True),
              "Use a channel again", CH, answer=m.ChannelState, errors=(404,)),
    Operation("POST", "/admin/channels/{name}/disable", _channel_state(False),
              "Stop using a channel", CH, answer=m.ChannelState, errors=(404,)),
    Operation("PUT", "/admin/routes/{account}/{carrier}", _set_route,
              "Set an account's channels for a carrier", CH, body=m.RouteSet,
              answer=m.RouteView, errors=(404,)),
    Operation("GET", "/admin/audit", _audit, "The audit log, newest first", A,
              query=m.AuditQuery, answer=ANY_LIST),
    *_review_operations(),
    Operation("GET", "/admin/blacklist", _blacklist, "List the blacklist", P,
              query=m.BlacklistQuery),
    Operation("POST", "/admin/blacklist", _blacklist_add, "Blacklist numbers", P,
              body=m.BlacklistAdd),
    Operation("POST", "/admin/blacklist/import", _blacklist_import,
              "Blacklist a file of numbers", P, query=m.ImportQuery, upload=True,
              errors=(413,)),
    Operation("DELETE", "/admin/blacklist/{mobile}", _blacklist_remove,
              "Take a number off the blacklist", P, errors=(404,)),
    Operation("GET", "/admin/optouts/{account}", _optouts, "List an account's opt-outs", P,
              answer=ANY_LIST, errors=(404,)),
    Operation("POST", "/admin/optouts/{account}", _optout_add, "Opt numbers out", P,
              body=m.Mobiles, errors=(404,)),
    Operation("POST", "/admin/optouts/{account}/import", _optout_import,
              "Opt a file of numbers out", P, upload=True, errors=(404, 413)),
    Operation("DELETE", "/admin/optouts/{account}/{mobile}", _optout_remove,
              "Take back an opt-out", P, errors=(404,)),
    Operation("GET", "/admin/words", _words, "Sensitive words per category", P,
              query=m.WordsQuery),
    Operation("POST", "/admin/words", _words_add, "Add a sensitive word", P, body=m.WordAdd),
    Operation("POST", "/admin/words/import", _words_import, "Add a file of words", P,
              query=m.ImportQuery, upload=True, errors=(413,)),
    Operation("POST", "/admin/words/remove", _words_remove, "Remove sensitive words", P,
              body=m.WordsRemove),
    Operation("GET", "/admin/frequency/{account}", _frequency, "An account's limits", P,
              errors=(404,)),
    Operation("PUT", "/admin/frequency/{account}", _frequency_set, "Change an account's limits",
              P, body=m.FrequencyPatch, errors=(404,)),
    *INSIGHT_OPERATIONS,  # callbacks, statistics, message lookup, ledgers
)  # fmt: skip


def operator_routes() -> list[Route]:
    return routes(OPERATIONS, operator_name)
