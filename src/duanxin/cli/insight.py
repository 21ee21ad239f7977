"""``duanxin callback``, ``duanxin stats``, ``duanxin message`` and ``duanxin ledger``:
push callbacks, delivery statistics, message histories and balance ledgers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Table

from duanxin.api import views
from duanxin.cli.common import DatabaseOption, _fail, _settings, _with_platform, console
from duanxin.domain.status import StatusError
from duanxin.domain.wire import json_bytes
from duanxin.service import admin, callbacks, history, stats
from duanxin.service.platform import Platform

__all__ = ["callback_app", "ledger", "message_app", "stats_command"]

T = TypeVar("T")
callback_app = typer.Typer(help="Push callbacks of reports and replies.", no_args_is_help=True)
message_app = typer.Typer(help="Message lookup and history.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
SinceOption = Annotated[str | None, typer.Option(help="From (YYYY-MM-DD [HH:MM:SS]).")]
UntilOption = Annotated[str | None, typer.Option(help="Until (YYYY-MM-DD [HH:MM:SS]).")]


def _run(database_url: str | None, action: Callable[[Platform], Awaitable[T]]) -> T:
    try:
        return _with_platform(_settings(database_url), action)
    except StatusError as error:
        raise _fail(error.message) from None


def _print_json(document: Any) -> None:
    console.print_json(json_bytes(document).decode())


def _times(since: str | None, until: str | None) -> dict[str, Any]:
    try:
        return {
            "since": views.optional_time({"since": since or ""}, "since"),
            "until": views.optional_time({"until": until or ""}, "until"),
        }
    except ValueError as error:
        raise _fail(str(error)) from None


@callback_app.command("set")
def callback_set(
    account: Annotated[str, typer.Argument()],
    reports_url: Annotated[str | None, typer.Option(help="Where reports go ('' removes).")] = None,
    replies_url: Annotated[str | None, typer.Option(help="Where replies go ('' removes).")] = None,
    rotate: Annotated[bool, typer.Option(help="Make a new signing secret.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Set an account's callback URLs; prints the signing secret when it is new."""

    async def action(platform: Platform) -> callbacks.CallbackView:
        found = await admin.find_account(platform, account)
        return await callbacks.set_callbacks(
            platform,
            found.id,
            reports_url=reports_url,
            replies_url=replies_url,
            rotate=rotate,
            actor="cli",
        )

    _print_json(views.callback_view(_run(database_url, action)))


@callback_app.command("show")
def callback_show(
    account: Annotated[str, typer.Argument()], database_url: DatabaseOption = None
) -> None:
    """Show an account's callback URLs (never the secret)."""

    async def action(platform: Platform) -> callbacks.CallbackView | None:
        return await callbacks.show_callbacks(
            platform, (await admin.find_account(platform, account)).id
        )

    view = _run(database_url, action)
    if view is None:
        raise _fail(f"no callbacks set for {account}")
    _print_json(views.callback_view(view))


@callback_app.command("test")
def callback_test(
    account: Annotated[str, typer.Argument()], database_url: DatabaseOption = None
) -> None:
    """POST a signed empty batch to each URL and show what the receiver answered."""

    async def action(platform: Platform) -> list[callbacks.CallbackTest]:
        return await callbacks.test_callback(
            platform, (await admin.find_account(platform, account)).id
        )

    results = _run(database_url, action)
    if not results:
        raise _fail(f"no callbacks set for {account}")
    table = Table("kind", "url", "outcome", "detail")
    for result in results:
        table.add_row(result.kind.value, result.url, result.outcome, result.detail)
    console.print(table)
    if any(r.outcome not in ("delivered", "none") for r in results):
        raise typer.Exit(code=1)


@callback_app.command("history")
def callback_history(
    account: Annotated[str, typer.Argument()],
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """The last tries to push to an account's callback URLs (tests too), newest first."""

    async def action(platform: Platform) -> list[callbacks.PushOutcome]:
        found = await admin.find_account(platform, account)
        return await callbacks.push_history(platform, found.id)

    rows = _run(database_url, action)
    if as_json:
        _print_json([{**asdict(r), "kind": r.kind.value} for r in rows])
        return
    table = Table("when", "kind", "url", "outcome", "status", "error", "items", "ms", "try")
    for r in rows:
        table.add_row(
            str(r.at), r.kind.value, r.url, r.outcome,
            "" if r.http_status is None else str(r.http_status), r.error, str(r.items),
            str(r.duration_ms), str(r.attempt) if r.attempt else "test",
        )  # fmt: skip
    console.print(table)


def stats_command(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    grain: Annotated[stats.Grain, typer.Option()] = stats.Grain.DAY,
    since: SinceOption = None,
    until: UntilOption = None,
    by: Annotated[
        str, typer.Option(help="Split by carrier, channel, account (comma-separated).")
    ] = "",
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Delivery statistics per day or hour: submitted, delivered, failed, pending, rate,
    report delay (median, 95th percentile), units billed."""
    dims = tuple(d.strip() for d in by.split(",") if d.strip())
    range_ = _times(since, until)

    async def action(platform: Platform) -> list[stats.StatLine]:
        account_id = (await admin.find_account(platform, account)).id if account else None
        return await stats.statistics(
            platform, grain=grain, by=dims, account_id=account_id, **range_
        )

    lines = _run(database_url, action)
    if as_json:
        _print_json(views.stats_view(lines))
        return
    table = Table("period", *dims, "submitted", "delivered", "failed", "pending", "rate",
                  "p50 s", "p95 s", "billed", "failed by stat")  # fmt: skip
    for line in lines:
        cells = [str(getattr(line, d) or "-") for d in dims]
        rate = "-" if line.delivery_rate is None else f"{line.delivery_rate:.1%}"
        table.add_row(
            str(line.period), *cells, str(line.submitted), str(line.delivered), str(line.failed),
            str(line.pending), rate, _delay(line.delay_p50), _delay(line.delay_p95),
            str(line.billed), ", ".join(f"{k} {v}" for k, v in line.failed_by_stat.items()),
        )  # fmt: skip
    console.print(table)


def _delay(value: float | None) -> str:
    return "-" if value is None else f"<={value:g}"


@message_app.command("show")
def message_show(
    mid: Annotated[str, typer.Argument()], database_url: DatabaseOption = None
) -> None:
    """Everything that happened to one message (JSON)."""
    found = _run(database_url, lambda p: history.message_history(p, mid))
    if found is None:
        raise _fail(f"no message {mid}")
    _print_json(views.history_view(found))


@message_app.command("search")
def message_search(
    account: Annotated[str | None, typer.Option(help="By account.")] = None,
    mobile: Annotated[str | None, typer.Option(help="By mobile number.")] = None,
    since: SinceOption = None,
    until: UntilOption = None,
    limit: Annotated[int, typer.Option()] = 50,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Messages by account and/or mobile within a time range, newest first."""
    range_ = _times(since, until)

    async def action(platform: Platform) -> list[history.MessageHistory]:
        account_id = (await admin.find_account(platform, account)).id if account else None
        return await history.search_messages(
            platform, account_id=account_id, mobile=mobile, limit=limit, **range_
        )

    found = _run(database_url, action)
    if as_json:
        _print_json([views.history_view(h) for h in found])
        return
    table = Table("mid", "account", "mobile", "accepted", "state", "stat", "segments", "channel")
    for h in found:
        table.add_row(h.mid, h.account, h.mobile, str(h.accepted_at), h.state, h.stat or "-",
                      str(h.segments), h.channel or "-")  # fmt: skip
    console.print(table)


def ledger(
    account: Annotated[str, typer.Argument()],
    before: Annotated[int | None, typer.Option(help="Entries older than this id.")] = None,
    limit: Annotated[int, typer.Option()] = 50,
    since: SinceOption = None,
    until: UntilOption = None,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """An account's charges, refunds and recharges with the balance after each."""
    range_ = _times(since, until)

    async def action(platform: Platform) -> history.LedgerPage:
        found = await admin.find_account(platform, account)
        return await history.ledger_page(platform, found.id, before=before, limit=limit, **range_)

    page = _run(database_url, action)
    if as_json:
        _print_json(views.ledger_view(page))
        return
    table = Table("id", "when", "change", "balance", "reason", "reference")
    for e in page.entries:
        table.add_row(
            str(e.id), str(e.at), f"{e.delta:+d}", str(e.balance_after), e.reason, e.reference
        )
    console.print(table)
    if page.next_before is not None:
        console.print(f"more: --before {page.next_before}")
