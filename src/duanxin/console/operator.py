"""The operator's pages: dashboard, customers and accounts, channels, routes, review,
lists, messages, replies and the audit log. Each parses its form, calls the service, and
renders; every change is audited by the service under the signed-in operator's name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from starlette.responses import Response
from starlette.routing import Route

from duanxin.console import keys
from duanxin.console.callback_form import save_callbacks
from duanxin.console.web import Page, operator_page, redirect, render
from duanxin.delivery.channels import PROTOCOLS
from duanxin.domain.accounts import AccessType, AccountState
from duanxin.domain.billing import ChargeType
from duanxin.domain.encoding import Alphabet
from duanxin.domain.numbers import Carrier
from duanxin.domain.policy import TemplateKind, validate_signature
from duanxin.domain.policy.files import BadLine, ListFileError
from duanxin.domain.reports import LongReport
from duanxin.service import (
    admin,
    callbacks,
    channels,
    console_auth,
    customers,
    lists,
    message_search,
    overview,
    review,
)
from duanxin.service.message_search import MessageQuery

__all__ = ["operator_routes"]

LIST_PAGE = 100
AUDIT_PAGE = 200
DECIDED_SHOWN = 20

CHARGE_TYPES = [(c.value, f"charge.{c.value}") for c in ChargeType]
ACCESS_TYPES = [(a.value, f"access.{a.value}") for a in AccessType]
STATES = [(s.value, f"state.{s.value}") for s in AccountState]
KINDS = [("", "kind.none")] + [(k.value, f"kind.{k.value}") for k in TemplateKind]
CARRIERS = [(c.value, f"carrier.{c.value}") for c in Carrier]
ALPHABETS = [(a.value, f"={a.value}") for a in Alphabet]
PROTOCOL_CHOICES = [(p, f"={p.upper()}") for p in PROTOCOLS]


def _int(page: Page, name: str, default: int | None = None) -> int:
    raw = page.field(name)
    if not raw and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(page.t("error.number", field=page.t(f"field.{name}"))) from None


def _path(*parts: str) -> str:
    return "/console/" + "/".join(quote(p, safe="") for p in parts)


# ------------------------------------------------------------------------ dashboard


async def _dashboard(page: Page) -> Response:
    board = await overview.dashboard(page.platform)
    health = await overview.health(page.platform)
    chart = {
        "minutes": board.minutes,
        "series": [
            {"label": page.t("dash.accepted_tps"), "values": board.accepted_tps},
            {"label": page.t("dash.submitted_tps"), "values": board.submitted_tps},
        ],
    }
    return render(page, "operator/dashboard.html", board=board, health=health, chart=chart)


# ----------------------------------------------------------- customers and accounts


async def _customers(page: Page, **extra: Any) -> Response:
    accounts = await admin.list_accounts(page.platform)
    customers = await _customer_names(page)
    return render(
        page,
        "operator/customers.html",
        accounts=accounts,
        customers=customers,
        charge_types=CHARGE_TYPES,
        access_types=ACCESS_TYPES,
        **extra,
    )


async def _customer_names(page: Page) -> dict[int, str]:
    return await customers.customer_names(page.platform)


async def _customers_page(page: Page) -> Response:
    return await _customers(page)


async def _create_account(page: Page) -> Response:
    customer = page.field("customer")
    account = page.field("account")
    password = page.form.get("password", "")
    if not customer or not account or not password:
        raise ValueError(page.t("error.required", fields=page.t("customers.required_fields")))
    spec = admin.AccountSpec(
        account=account,
        password=password,
        spid=page.field("spid") or "000000",
        extno=page.field("extno"),
        charge_type=ChargeType(page.field("charge_type") or ChargeType.PRECHARGE.value),
        access_type=AccessType(page.field("access_type") or AccessType.HTTP.value),
        default_signature=page.field("default_signature"),
    )
    try:
        await admin.find_account(page.platform, account)
    except LookupError:
        pass
    else:
        raise ValueError(page.t("error.account_exists", account=account))
    if spec.default_signature:
        validate_signature(spec.default_signature)  # before the customer is made
    customer_id, key = await admin.find_or_create_customer(page.platform, customer, page.actor)
    await admin.create_account(page.platform, customer_id, spec, page.actor)
    return await _customers(page, created=account, key=key)


async def _account_page(
    page: Page,
    key: keys.IssuedKey | None = None,
    callback: callbacks.CallbackView | None = None,
) -> Response:
    account = await admin.find_account(page.platform, page.request.path_params["account"])
    callback = callback or await callbacks.show_callbacks(page.platform, account.id)
    approved = await review.list_signatures(page.platform, account.account, "approved")
    routes = [r for r in await channels.list_routes(page.platform) if r.account == account.account]
    customer = await keys.customer_name(page.platform, account.customer_id)
    return render(
        page,
        "operator/account.html",
        frequency=await lists.frequency_show(page.platform, account.account),
        account=account,
        customer=customer,
        keys=await keys.keys_of(page.platform, customer),
        key=key,
        callback=callback,
        history=await callbacks.push_history(page.platform, account.id),
        routes=routes,
        charge_types=CHARGE_TYPES,
        access_types=ACCESS_TYPES,
        states=STATES,
        kinds=KINDS,
        signature_choices=[("", "=—")] + [(s["signature"], "=" + s["signature"]) for s in approved],
    )


def _account_changes(page: Page) -> dict[str, Any]:
    changes: dict[str, Any] = {
        name: page.field(name)
        for name in ("state", "charge_type", "access_type", "ip_whitelist", "spid", "extno")
    }
    changes["max_concurrency"] = _int(page, "max_concurrency", 0)
    changes["default_signature"] = page.field("default_signature")
    changes["default_kind"] = page.field("default_kind") or None
    changes["template_required"] = page.form.get("template_required") == "1"
    changes["refund_on_failure"] = page.form.get("refund_on_failure") == "1"
    if page.form.get("password"):
        changes["password"] = page.form["password"]
    return changes


async def _edit_account(page: Page) -> Response:
    name = page.request.path_params["account"]
    current = await admin.find_account(page.platform, name)
    changes = _account_changes(page)
    before = {
        "state": current.state.value,
        "charge_type": current.charge_type.value,
        "access_type": current.access_type.value,
        "ip_whitelist": current.ip_whitelist,
        "spid": current.spid,
        "extno": current.extno,
        "max_concurrency": current.max_concurrency,
        "default_signature": current.default_signature,
        "default_kind": current.default_kind.value if current.default_kind else None,
        "template_required": current.template_required,
        "refund_on_failure": current.refund_on_failure,
    }
    changed = {k: v for k, v in changes.items() if k == "password" or before.get(k) != v}
    if changed:
        await admin.set_account(page.platform, name, changed, page.actor)
    return redirect(page, _path("accounts", name), page.t("common.saved"))


async def _recharge(page: Page) -> Response:
    name = page.request.path_params["account"]
    amount = _int(page, "amount")
    balance = await admin.recharge(page.platform, name, amount, page.actor, page.field("note"))
    return redirect(page, _path("accounts", name), page.t("account.recharged", balance=balance))


async def _set_callbacks(page: Page) -> Response:
    account = await admin.find_account(page.platform, page.request.path_params["account"])
    view = await save_callbacks(page, account.id)
    return await _account_page(page, callback=view)


async def _frequency(page: Page) -> Response:
    name = page.request.path_params["account"]
    scope = page.field("scope")
    limits = None if page.form.get("default") == "1" else page.field("limits")
    await lists.frequency_set(page.platform, name, scope, limits, page.actor)
    return redirect(page, _path("accounts", name), page.t("common.saved"))


async def _issue_key(page: Page) -> Response:
    account = await admin.find_account(page.platform, page.request.path_params["account"])
    customer = await keys.customer_name(page.platform, account.customer_id)
    key = await keys.issue(page.platform, customer, page.actor)
    return await _account_page(page, key)


async def _revoke_key(page: Page) -> Response:
    account = await admin.find_account(page.platform, page.request.path_params["account"])
    customer = await keys.customer_name(page.platform, account.customer_id)
    await keys.revoke(page.platform, customer, page.field("secret_id"), page.actor)
    return redirect(page, _path("accounts", account.account), page.t("keys.revoked_one"))


async def _account_detail(page: Page) -> Response:
    return await _account_page(page)


# --------------------------------------------------------------- channels and routes


async def _channels(page: Page) -> Response:
    return render(
        page,
        "operator/channels.html",
        channels=await admin.list_channels(page.platform),
        live=page.platform.channel_live(),
        protocols=PROTOCOL_CHOICES,
        alphabets=ALPHABETS,
    )


def _channel_numbers(page: Page) -> dict[str, int]:
    return {
        "port": _int(page, "port"),
        "tps": _int(page, "tps", 0),
        "window": _int(page, "window", 16),
        "max_connections": _int(page, "max_connections", 1),
    }


async def _add_channel(page: Page) -> Response:
    numbers = _channel_numbers(page)
    required = ("name", "protocol", "host", "account", "access_code")
    if any(not page.field(name) for name in required) or not page.form.get("password"):
        raise ValueError(page.t("error.required", fields=page.t("channel.required_fields")))
    alphabet = page.field("alphabet") or Alphabet.ASCII.value
    spec = admin.ChannelSpec(
        name=page.field("name"),
        protocol=page.field("protocol"),
        host=page.field("host"),
        port=numbers["port"],
        account=page.field("account"),
        password=page.form["password"],
        access_code=page.field("access_code"),
        service_id=page.field("service_id"),
        sp_code=page.field("sp_code"),
        window=numbers["window"],
        tps=numbers["tps"],
        max_connections=numbers["max_connections"],
        long_report=LongReport.ALL,
        settings={} if alphabet == Alphabet.ASCII.value else {"alphabet": alphabet},
    )
    if spec.protocol not in PROTOCOLS:
        raise ValueError(page.t("error.protocol"))
    if any(c["name"] == spec.name for c in await admin.list_channels(page.platform)):
        raise ValueError(page.t("error.channel_exists", name=spec.name))
    await admin.add_channel(page.platform, spec, page.actor)
    return redirect(page, _path("channels", spec.name), page.t("channel.added"))


async def _channel(page: Page) -> Response:
    name = page.request.path_params["name"]
    found = [c for c in await admin.list_channels(page.platform) if c["name"] == name]
    if not found:
        raise LookupError(page.t("error.no_channel", name=name))
    return render(
        page,
        "operator/channel.html",
        channel=found[0],
        live=page.platform.channel_live().get(name),
        alphabets=ALPHABETS,
    )


async def _edit_channel(page: Page) -> Response:
    name = page.request.path_params["name"]
    changes: dict[str, Any] = {
        field: page.field(field)
        for field in ("host", "account", "access_code", "service_id", "sp_code")
    }
    changes.update(_channel_numbers(page))
    if page.form.get("password"):
        changes["password"] = page.form["password"]  # blank: keep the old one
    if page.field("alphabet"):
        changes["settings"] = {"alphabet": page.field("alphabet")}
    await channels.edit_channel(page.platform, name, changes, page.actor)
    return redirect(page, _path("channels", name), page.t("common.saved"))


async def _channel_state(page: Page) -> Response:
    name, action = page.request.path_params["name"], page.request.path_params["action"]
    if action not in ("enable", "disable"):
        raise LookupError(page.t("error.not_found"))
    enable = action == "enable"
    await admin.set_channel_enabled(page.platform, name, enable, page.actor)
    message = page.t("channel.enabled_one" if enable else "channel.disabled_one", name=name)
    back = page.form.get("back") or _path("channels", name)
    return redirect(page, back if back.startswith("/console/") else "/console/channels", message)


async def _remove_channel(page: Page) -> Response:
    name = page.request.path_params["name"]
    await channels.remove_channel(page.platform, name, page.actor)
    return redirect(page, "/console/channels", page.t("channel.removed", name=name))


async def _routes(page: Page) -> Response:
    accounts = await admin.list_accounts(page.platform)
    names = [c["name"] for c in await admin.list_channels(page.platform)]
    return render(
        page,
        "operator/routes.html",
        routes=await channels.list_routes(page.platform),
        account_choices=[(a.account, "=" + a.account) for a in accounts],
        selected_account=page.query("account"),
        carriers=CARRIERS,
        channel_names=names,
    )


async def _set_route(page: Page) -> Response:
    account, carrier = page.field("account"), Carrier(page.field("carrier")).value
    names = [n.strip() for n in page.field("channels").replace(",", " ").split() if n.strip()]
    await admin.add_route(page.platform, account, carrier, names, page.actor)
    return redirect(page, "/console/routes", page.t("routes.saved", account=account))


# ---------------------------------------------------------------------------- review


async def _review(page: Page) -> Response:
    decided = [
        *await review.list_signatures(page.platform, None, "approved"),
        *await review.list_signatures(page.platform, None, "rejected"),
        *await review.list_templates(page.platform, None, "approved"),
        *await review.list_templates(page.platform, None, "rejected"),
    ]
    decided.sort(key=lambda row: row["decided_at"] or datetime.min, reverse=True)
    return render(
        page,
        "operator/review.html",
        signatures=await review.list_signatures(page.platform, None, "pending"),
        templates=await review.list_templates(page.platform, None, "pending"),
        decided=decided[:DECIDED_SHOWN],
    )


async def _decide(page: Page) -> Response:
    kind, action = page.request.path_params["kind"], page.request.path_params["action"]
    row_id = page.request.path_params["id"]
    if kind not in ("signature", "template") or action not in ("approve", "reject"):
        raise LookupError(page.t("error.not_found"))
    if action == "approve":
        approve = review.approve_signature if kind == "signature" else review.approve_template
        await approve(page.platform, row_id, page.actor)
    else:
        reject = review.reject_signature if kind == "signature" else review.reject_template
        await reject(page.platform, row_id, page.field("reason"), page.actor)
    message = page.t(f"review.{action}_done", kind=page.t(f"review.{kind}"), id=row_id)
    return redirect(page, "/console/review", message)


# ----------------------------------------------------------------------------- lists


@dataclass(frozen=True, slots=True)
class ImportReport:
    """An imported file's bad lines, shown on the lists page."""

    file: str
    bad: tuple[BadLine, ...]
    count: int
    partial: bool  # the good lines were imported (else: nothing was)
    summary: str = ""


async def _lists(page: Page, report: ImportReport | None = None) -> Response:
    mobile, account, word = page.query("mobile"), page.query("account"), page.query("word")
    if report is not None:
        account = page.field("account")
    total, rows = await lists.blacklist_list(page.platform, LIST_PAGE)
    listed = bool(mobile) and bool(await lists.blacklist_contains(page.platform, [mobile]))
    accounts = await admin.list_accounts(page.platform)
    return render(
        page,
        "operator/lists.html",
        blacklist_total=total,
        blacklist=rows,
        mobile=mobile,
        listed=listed,
        account=account,
        account_choices=[("", "=—")] + [(a.account, "=" + a.account) for a in accounts],
        optout_mobile=page.query("optout_mobile"),
        optouts=(
            await lists.optout_list(page.platform, account, page.query("optout_mobile"))
            if account
            else []
        ),
        categories=await lists.words_categories(page.platform),
        word=word,
        words=await lists.words_list(page.platform, containing=word) if word else [],
        report=report,
    )


def _numbers(page: Page) -> list[str]:
    return page.field("mobiles").replace(",", "\n").split()


def _imported(page: Page, result: lists.NumberImport) -> str:
    return page.t("lists.imported", added=result.added, known=result.known, invalid=result.invalid)


def _upload_text(page: Page) -> str:
    upload = page.uploads.get("file")
    if upload is None:
        raise ValueError(page.t("error.no_file"))
    try:
        return upload.content.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(page.t("error.not_utf8")) from None


async def _import(page: Page, which: str) -> Response:
    """A file into a list: a summary message, or the lists page with the bad lines."""
    text, name = _upload_text(page), page.uploads["file"].name
    platform, actor = page.platform, page.actor
    if which == "words":
        category = page.field("category") or "default"
        try:
            added = await lists.words_import(
                platform, text, actor, category, csv=name.lower().endswith(".csv")
            )
        except ListFileError as error:
            return await _lists(page, ImportReport(name, error.bad, error.count, partial=False))
        return _back_to_lists(page, page.t("lists.words_added", n=added))
    if which == "blacklist":
        result = await lists.blacklist_import(platform, text, actor, page.field("reason"))
    else:
        result = await lists.optout_import(platform, page.field("account"), text, actor)
    if result.bad_lines:
        summary = _imported(page, result)
        report = ImportReport(name, result.bad_lines, result.invalid, True, summary)
        return await _lists(page, report)
    return _back_to_lists(page, _imported(page, result))


def _back_to_lists(page: Page, message: str) -> Response:
    back = page.form.get("back") or "/console/lists"
    return redirect(page, back if back.startswith("/console/") else "/console/lists", message)


async def _list_action(page: Page) -> Response:
    which, action = page.request.path_params["list"], page.request.path_params["action"]
    platform, actor = page.platform, page.actor
    if which in ("blacklist", "optouts", "words") and action == "import":
        return await _import(page, which)
    if which == "blacklist" and action == "add":
        result = await lists.blacklist_add(platform, _numbers(page), actor, page.field("reason"))
        message = _imported(page, result)
    elif which == "blacklist" and action == "remove":
        removed = await lists.blacklist_remove(platform, _numbers(page), actor)
        message = page.t("lists.removed", n=removed)
    elif which == "optouts" and action in ("add", "remove"):
        account = page.field("account")
        if action == "add":
            message = _imported(
                page, await lists.optout_add(platform, account, _numbers(page), actor)
            )
        else:
            removed = await lists.optout_remove(platform, account, _numbers(page), actor)
            message = page.t("lists.removed", n=removed)
    elif which == "words" and action == "add":
        category = page.field("category") or "default"
        added = await lists.words_add(platform, page.field("word"), actor, category)
        message = page.t("lists.words_added", n=added)
    elif which == "words" and action == "remove":
        removed = await lists.words_remove(platform, [page.field("word")], actor)
        message = page.t("lists.removed", n=removed)
    else:
        raise LookupError(page.t("error.not_found"))
    return _back_to_lists(page, message)


# ----------------------------------------------------------- messages, replies, audit


def _time(page: Page, name: str) -> datetime | None:
    raw = page.query(name)
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(page.t("error.time", field=page.t(f"messages.{name}"))) from None


def message_query(page: Page) -> MessageQuery:
    return MessageQuery(
        mid=page.query("mid") or None,
        mobile=page.query("mobile") or None,
        account=page.query("account") or None,
        since=_time(page, "since"),
        until=_time(page, "until"),
    )


async def _messages(page: Page) -> Response:
    rows = await message_search.find_messages(page.platform, message_query(page))
    fields = {n: page.query(n) for n in ("mid", "mobile", "account", "since", "until")}
    return render(
        page,
        "messages.html",
        layout="operator/layout.html",
        operator=True,
        base="/console/messages",
        rows=rows,
        q=fields,
    )


async def _message(page: Page) -> Response:
    history = await message_search.message_history(page.platform, page.request.path_params["mid"])
    if history is None:
        raise LookupError(page.t("error.no_message"))
    return render(page, "message.html", layout="operator/layout.html", operator=True, h=history)


async def _replies(page: Page) -> Response:
    account, mobile = page.query("account"), page.query("mobile")
    rows = await message_search.find_replies(
        page.platform, account=account or None, mobile=mobile or None
    )
    return render(
        page,
        "replies.html",
        layout="operator/layout.html",
        operator=True,
        rows=rows,
        account=account,
        mobile=mobile,
    )


async def _audit(page: Page) -> Response:
    actor, action = page.query("actor"), page.query("action")
    rows = await lists.audit_list(
        page.platform, AUDIT_PAGE, actor=actor or None, action=action or None
    )
    return render(page, "operator/audit.html", rows=rows, actor=actor, action=action)


# -------------------------------------------------------------------- operator users


async def _operators(page: Page) -> Response:
    operators = await console_auth.list_operators(page.platform)
    return render(page, "operator/operators.html", operators=operators)


async def _add_operator(page: Page) -> Response:
    name = page.field("name")
    await console_auth.add_operator(page.platform, name, page.form.get("password", ""), page.actor)
    return redirect(page, "/console/operators", page.t("operators.added", name=name))


async def _operator_state(page: Page) -> Response:
    name, action = page.request.path_params["name"], page.request.path_params["action"]
    if action not in ("enable", "disable"):
        raise LookupError(page.t("error.not_found"))
    enable = action == "enable"
    ended = await console_auth.set_operator_enabled(page.platform, name, enable, page.actor)
    if enable:
        message = page.t("operators.enabled_one", name=name)
    else:
        message = page.t("operators.disabled_one", name=name, n=ended)
    return redirect(page, "/console/operators", message)


def operator_routes() -> list[Route]:
    get, post = ["GET"], ["POST"]
    return [
        Route("/", operator_page(_dashboard), methods=get),
        Route("/customers", operator_page(_customers_page), methods=get),
        Route("/customers", operator_page(_create_account), methods=post),
        Route("/accounts/{account}", operator_page(_account_detail), methods=get),
        Route("/accounts/{account}/edit", operator_page(_edit_account), methods=post),
        Route("/accounts/{account}/recharge", operator_page(_recharge), methods=post),
        Route("/accounts/{account}/frequency", operator_page(_frequency), methods=post),
        Route("/accounts/{account}/callbacks", operator_page(_set_callbacks), methods=post),
        Route("/accounts/{account}/keys/issue", operator_page(_issue_key), methods=post),
        Route("/accounts/{account}/keys/revoke", operator_page(_revoke_key), methods=post),
        Route("/channels", operator_page(_channels), methods=get),
        Route("/channels", operator_page(_add_channel), methods=post),
        Route("/channels/{name}", operator_page(_channel), methods=get),
        Route("/channels/{name}/edit", operator_page(_edit_channel), methods=post),
        Route("/channels/{name}/remove", operator_page(_remove_channel), methods=post),
        Route(
            "/channels/{name}/{action:str}",
            operator_page(_channel_state),
            methods=post,
        ),
        Route("/routes", operator_page(_routes), methods=get),
        Route("/routes", operator_page(_set_route), methods=post),
        Route("/review", operator_page(_review), methods=get),
        Route("/review/{kind}/{id:int}/{action}", operator_page(_decide), methods=post),
        Route("/lists", operator_page(_lists), methods=get),
        Route("/lists/{list}/{action}", operator_page(_list_action), methods=post),
        Route("/messages", operator_page(_messages), methods=get),
        Route("/messages/{mid}", operator_page(_message), methods=get),
        Route("/replies", operator_page(_replies), methods=get),
        Route("/audit", operator_page(_audit), methods=get),
        Route("/operators", operator_page(_operators), methods=get),
        Route("/operators", operator_page(_add_operator), methods=post),
        Route("/operators/{name}/{action}", operator_page(_operator_state), methods=post),
    ]
