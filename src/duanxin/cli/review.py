"""``duanxin signature`` and ``duanxin template``: registration and the operator's review."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from duanxin.cli.common import (
    ActorOption,
    DatabaseOption,
    JsonOption,
    _settings,
    _with_platform,
    console,
    emit,
)
from duanxin.service.platform import Platform

__all__ = ["signature_app", "template_app"]

signature_app = typer.Typer(help="Signatures 【...】 and their review.", no_args_is_help=True)
template_app = typer.Typer(help="Templates and their review.", no_args_is_help=True)


def _review_table(rows: list[dict[str, Any]], text_key: str) -> Table:
    columns = ["id", "account", text_key, "state", "reason", "decided by"]
    if text_key == "template":
        columns.insert(2, "kind")
    table = Table(*columns)
    for row in rows:
        cells = [str(row["id"]), row["account"], row[text_key], row["state"], row["reason"]]
        cells.append(row["decided_by"] or "")
        if text_key == "template":
            cells.insert(2, row["kind"])
        table.add_row(*cells)
    return table


@signature_app.command("add")
def signature_add(
    account: str,
    signature: Annotated[str, typer.Argument(help="【公司名】 or 公司名 (2-12 characters).")],
    approve: Annotated[bool, typer.Option(help="Approve it at once.")] = False,
    default: Annotated[bool, typer.Option(help="Make it the account's default.")] = False,
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Register a signature for an account (pending review unless --approve)."""
    from duanxin.service import review

    async def action(platform: Platform) -> dict[str, Any]:
        row = await review.register_signature(platform, account, signature)
        if approve:
            row = await review.approve_signature(platform, row["id"], by)
        if default:
            await review.set_default_signature(platform, account, row["signature"], by)
        return row

    row = _with_platform(_settings(database_url), action)
    console.print(f"signature {row['id']} {row['signature']}: {row['state']}", highlight=False)


@signature_app.command("approve")
def signature_approve(
    signature_id: int, by: ActorOption = "cli", database_url: DatabaseOption = None
) -> None:
    """Approve a pending signature."""
    from duanxin.service import review

    row = _with_platform(
        _settings(database_url), lambda p: review.approve_signature(p, signature_id, by)
    )
    console.print(f"signature {row['id']} {row['signature']}: approved", highlight=False)


@signature_app.command("reject")
def signature_reject(
    signature_id: int,
    reason: Annotated[str, typer.Option(help="Told to the customer.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Reject a signature, with a reason."""
    from duanxin.service import review

    row = _with_platform(
        _settings(database_url), lambda p: review.reject_signature(p, signature_id, reason, by)
    )
    console.print(f"signature {row['id']} {row['signature']}: rejected", highlight=False)


@signature_app.command("default")
def signature_default(
    account: str,
    signature: Annotated[str, typer.Argument(help="An approved signature; '' clears it.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Set the signature added to the account's unsigned content."""
    from duanxin.service import review

    shown = _with_platform(
        _settings(database_url),
        lambda p: review.set_default_signature(p, account, signature, by),
    )
    console.print(f"{account}: default signature {shown or '(none)'}", highlight=False)


@signature_app.command("list")
def signature_list(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    state: Annotated[str | None, typer.Option(help="pending, approved or rejected.")] = None,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """List signatures (e.g. --state pending: the review queue)."""
    from duanxin.service import review

    rows = _with_platform(
        _settings(database_url), lambda p: review.list_signatures(p, account, state)
    )
    emit(rows, as_json, lambda: _review_table(rows, "signature"))


@template_app.command("add")
def template_add(
    account: str,
    kind: Annotated[str, typer.Argument(help="verification, notification or marketing.")],
    text: Annotated[str, typer.Argument(help="Text with ${name} or {1} variables.")],
    approve: Annotated[bool, typer.Option(help="Approve it at once.")] = False,
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Register a template for an account (refused at once if it has problems)."""
    from duanxin.service import review

    async def action(platform: Platform) -> dict[str, Any]:
        row = await review.register_template(platform, account, kind, text)
        if approve:
            row = await review.approve_template(platform, row["id"], by)
        return row

    row = _with_platform(_settings(database_url), action)
    console.print(f"template {row['id']} ({row['kind']}): {row['state']}", highlight=False)


@template_app.command("approve")
def template_approve(
    template_id: int, by: ActorOption = "cli", database_url: DatabaseOption = None
) -> None:
    """Approve a pending template."""
    from duanxin.service import review

    row = _with_platform(
        _settings(database_url), lambda p: review.approve_template(p, template_id, by)
    )
    console.print(f"template {row['id']}: approved", highlight=False)


@template_app.command("reject")
def template_reject(
    template_id: int,
    reason: Annotated[str, typer.Option(help="Told to the customer.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Reject a template, with a reason."""
    from duanxin.service import review

    row = _with_platform(
        _settings(database_url), lambda p: review.reject_template(p, template_id, reason, by)
    )
    console.print(f"template {row['id']}: rejected", highlight=False)


@template_app.command("list")
def template_list(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    state: Annotated[str | None, typer.Option(help="pending, approved or rejected.")] = None,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """List templates (e.g. --state pending: the review queue)."""
    from duanxin.service import review

    rows = _with_platform(
        _settings(database_url), lambda p: review.list_templates(p, account, state)
    )
    emit(rows, as_json, lambda: _review_table(rows, "template"))
