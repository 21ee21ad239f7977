"""The customer's pages (``/console/my/...``): overview and keys, a test send, sent
messages with their reports, replies, daily statistics, the balance ledger, callback URLs,
signatures and templates.

Every page works on the signed-in account only: its name comes from the session, never
from the URL or a form field, and a message id of another account is "not found".
"""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import Response
from starlette.routing import Route

from duanxin.console import keys
from duanxin.console.callback_form import save_callbacks
from duanxin.console.operator import message_query
from duanxin.console.web import Page, customer_page, redirect, render
from duanxin.domain.accounts import Account
from duanxin.domain.policy import TemplateKind
from duanxin.service import admin, callbacks, history, message_search, review, stats
from duanxin.service.send import send_signed_in

__all__ = ["customer_routes"]

KINDS = [(k.value, f"kind.{k.value}") for k in TemplateKind]


async def _account(page: Page) -> Account:
    return await admin.find_account(page.platform, page.actor)


async def _overview(page: Page, key: keys.IssuedKey | None = None) -> Response:
    account = await _account(page)
    customer = await keys.customer_name(page.platform, account.customer_id)
    base = str(page.request.base_url).rstrip("/")
    return render(
        page,
        "customer/overview.html",
        connections=_connections(page, account),
        account=account,
        keys=await keys.keys_of(page.platform, customer),
        key=key,
        api_url=base,
    )


def _connections(page: Page, account: Account) -> list[tuple[str, str, int]]:
    """(protocol, host, port) of the customer CMPP/SMPP servers the account may use."""
    servers = getattr(page.request.app.state, "access", None)
    if servers is None:
        return []
    opened = account.access_type.interfaces
    found = []
    for protocol, where in servers.addresses().items():
        if protocol in opened:
            host = str(where["host"])
            if host in ("", "0.0.0.0", "::"):  # every address: the one this page came by
                host = page.request.url.hostname or host
            found.append((protocol, host, int(where["port"])))
    return found


async def _overview_page(page: Page) -> Response:
    return await _overview(page)


async def _issue_key(page: Page) -> Response:
    account = await _account(page)
    customer = await keys.customer_name(page.platform, account.customer_id)
    key = await keys.issue(page.platform, customer, page.actor)
    return await _overview(page, key)


async def _revoke_key(page: Page) -> Response:
    account = await _account(page)
    customer = await keys.customer_name(page.platform, account.customer_id)
    await keys.revoke(page.platform, customer, page.field("secret_id"), page.actor)
    return redirect(page, "/console/my/", page.t("keys.revoked_one"))


async def _signature_texts(page: Page) -> list[str]:
    rows = await review.list_signatures(page.platform, page.actor, "approved")
    return [str(row["signature"]) for row in rows]


async def _send_page(page: Page) -> Response:
    return render(
        page,
        "customer/send.html",
        account=await _account(page),
        signatures=await _signature_texts(page),
        outcome=None,
        mobiles="",
        content="",
        signature="",
    )


async def _send(page: Page) -> Response:
    signatures = await _signature_texts(page)
    signature = page.field("signature")
    if signature and signature not in signatures:
        raise ValueError(page.t("error.signature_not_approved"))
    content = page.field("content")
    mobiles = [m for m in page.field("mobiles").replace(",", " ").split() if m]
    if not mobiles or not content:
        raise ValueError(page.t("error.required", fields=page.t("send.required_fields")))
    outcome = await send_signed_in(page.platform, page.actor, mobiles, signature + content)
    return render(
        page,
        "customer/send.html",
        account=await _account(page),
        signatures=signatures,
        outcome=outcome,
        mobiles=page.field("mobiles"),
        content=content,
        signature=signature,
    )


async def _messages(page: Page) -> Response:
    account = await _account(page)
    rows = await message_search.find_messages(
        page.platform, message_query(page), account_id=account.id
    )
    fields = {n: page.query(n) for n in ("mid", "mobile", "since", "until")}
    return render(
        page,
        "messages.html",
        layout="customer/layout.html",
        operator=False,
        base="/console/my/messages",
        rows=rows,
        q=fields,
    )


async def _message(page: Page) -> Response:
    account = await _account(page)
    history = await message_search.message_history(
        page.platform, page.request.path_params["mid"], account_id=account.id
    )
    if history is None:
        raise LookupError(page.t("error.no_message"))
    return render(page, "message.html", layout="customer/layout.html", operator=False, h=history)


async def _replies(page: Page) -> Response:
    account = await _account(page)
    mobile = page.query("mobile")
    rows = await message_search.find_replies(
        page.platform, account_id=account.id, mobile=mobile or None
    )
    return render(
        page,
        "replies.html",
        layout="customer/layout.html",
        operator=False,
        rows=rows,
        mobile=mobile,
        account="",
    )


LEDGER_PAGE = 50
LEDGER_REASONS = ("send", "refund", "recharge")


async def _ledger(page: Page) -> Response:
    account = await _account(page)
    before = page.query("before")
    entries = await history.ledger_page(
        page.platform,
        account.id,
        before=int(before) if before.isdigit() else None,
        limit=LEDGER_PAGE,
    )
    reasons = {r: page.t(f"ledger.reason_{r}") for r in LEDGER_REASONS}
    return render(page, "customer/ledger.html", account=account, ledger=entries, reasons=reasons)


STATS_DAYS = 14


async def _stats(page: Page) -> Response:
    account = await _account(page)
    until = page.platform.clock()
    since = (until - timedelta(days=STATS_DAYS - 1)).replace(hour=0, minute=0, second=0)
    lines = await stats.statistics(
        page.platform, grain=stats.Grain.DAY, since=since, until=until, account_id=account.id
    )
    chart = {
        "days": [line.period.strftime("%Y-%m-%d") for line in lines],
        "series": [
            {"label": page.t("dash.delivered"), "values": [line.delivered for line in lines]},
            {"label": page.t("dash.failed"), "values": [line.failed for line in lines]},
        ],
    }
    return render(page, "customer/stats.html", lines=lines, chart=chart)


async def _callbacks_page(
    page: Page,
    shown: callbacks.CallbackView | None = None,
    tests: list[callbacks.CallbackTest] | None = None,
) -> Response:
    account = await _account(page)
    view = shown or await callbacks.show_callbacks(page.platform, account.id)
    pushes = await callbacks.push_history(page.platform, account.id)
    return render(page, "customer/callbacks.html", view=view, tests=tests, history=pushes)


async def _callbacks(page: Page) -> Response:
    return await _callbacks_page(page)


async def _set_callbacks(page: Page) -> Response:
    account = await _account(page)
    view = await save_callbacks(page, account.id)
    return await _callbacks_page(page, shown=view)


async def _test_callbacks(page: Page) -> Response:
    account = await _account(page)
    return await _callbacks_page(
        page, tests=await callbacks.test_callback(page.platform, account.id)
    )


async def _signatures(page: Page) -> Response:
    return render(
        page,
        "customer/signatures.html",
        signatures=await review.list_signatures(page.platform, page.actor),
        templates=await review.list_templates(page.platform, page.actor),
        kinds=KINDS,
    )


async def _register_signature(page: Page) -> Response:
    row = await review.register_signature(page.platform, page.actor, page.field("signature"))
    return redirect(page, "/console/my/signatures", page.t("my.submitted", text=row["signature"]))


async def _register_template(page: Page) -> Response:
    row = await review.register_template(
        page.platform, page.actor, page.field("kind"), page.field("template")
    )
    return redirect(page, "/console/my/signatures", page.t("my.submitted", text=f"#{row['id']}"))


def customer_routes() -> list[Route]:
    get, post = ["GET"], ["POST"]
    return [
        Route("/my/", customer_page(_overview_page), methods=get),
        Route("/my/keys/issue", customer_page(_issue_key), methods=post),
        Route("/my/keys/revoke", customer_page(_revoke_key), methods=post),
        Route("/my/send", customer_page(_send_page), methods=get),
        Route("/my/send", customer_page(_send), methods=post),
        Route("/my/messages", customer_page(_messages), methods=get),
        Route("/my/messages/{mid}", customer_page(_message), methods=get),
        Route("/my/replies", customer_page(_replies), methods=get),
        Route("/my/ledger", customer_page(_ledger), methods=get),
        Route("/my/stats", customer_page(_stats), methods=get),
        Route("/my/callbacks", customer_page(_callbacks), methods=get),
        Route("/my/callbacks", customer_page(_set_callbacks), methods=post),
        Route("/my/callbacks/test", customer_page(_test_callbacks), methods=post),
        Route("/my/signatures", customer_page(_signatures), methods=get),
        Route("/my/signatures", customer_page(_register_signature), methods=post),
        Route("/my/templates", customer_page(_register_template), methods=post),
    ]
