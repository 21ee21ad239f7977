"""``duanxin account``: customer accounts."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from duanxin.cli.common import DatabaseOption, _fail, _settings, _with_platform, console
from duanxin.domain.accounts import AccessType
from duanxin.domain.billing import ChargeType
from duanxin.service import admin
from duanxin.service.platform import Platform

__all__ = ["account_app"]

account_app = typer.Typer(help="Customer accounts.", no_args_is_help=True)

DefaultKindOption = Annotated[
    str | None,
    typer.Option(
        help="Kind of content matching no template: verification, notification, marketing, "
        "or none (the classifier decides). Frequency limits and the marketing window go by it.",
    ),
]


@account_app.command("create")
def account_create(
    account: Annotated[str, typer.Argument()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    customer: Annotated[str, typer.Option(help="Customer name (created if new).")],
    spid: Annotated[str, typer.Option(help="SP code shown in reports.")] = "000000",
    extno: Annotated[str, typer.Option(help="The account's own extension.")] = "",
    charge_type: Annotated[ChargeType, typer.Option()] = ChargeType.PRECHARGE,
    access_type: Annotated[AccessType, typer.Option()] = AccessType.HTTP,
    default_signature: Annotated[str, typer.Option()] = "",
    default_kind: DefaultKindOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Create an account (and its customer and API key if the customer is new)."""
    try:
        kind = admin.default_kind(default_kind)
    except ValueError as error:
        raise _fail(str(error)) from None

    async def action(platform: Platform) -> None:
        customer_id, key = await admin.find_or_create_customer(platform, customer, "cli")
        await admin.create_account(
            platform,
            customer_id,
            admin.AccountSpec(
                account=account,
                password=password,
                spid=spid,
                extno=extno,
                charge_type=charge_type,
                access_type=access_type,
                default_signature=default_signature,
                default_kind=kind,
            ),
        )
        console.print(f"account {account} created for customer {customer}")
        if key is not None:
            console.print(f"SecretId:  {key.secret_id}\nSecretKey: {key.secret_key} (shown once)")

    _with_platform(_settings(database_url), action)


@account_app.command("list")
def account_list(database_url: DatabaseOption = None) -> None:
    """List accounts."""

    async def action(platform: Platform) -> None:
        rows = await admin.list_accounts(platform)
        table = Table("account", "spid", "state", "charge", "balance", "access")
        for a in rows:
            table.add_row(a.account, a.spid, a.state, a.charge_type, str(a.balance), a.access_type)
        console.print(table)

    _with_platform(_settings(database_url), action)


@account_app.command("show")
def account_show(account: str, database_url: DatabaseOption = None) -> None:
    """Show one account's settings (password hidden)."""

    async def action(platform: Platform) -> None:
        found = await admin.find_account(platform, account)
        shown = {k: v for k, v in found.__class__.__dataclass_fields__.items() if k != "password"}
        console.print_json(json.dumps({k: getattr(found, k) for k in shown}, default=str))

    _with_platform(_settings(database_url), action)


@account_app.command("recharge")
def account_recharge(account: str, amount: int, database_url: DatabaseOption = None) -> None:
    """Add units to an account's balance (negative to deduct)."""
    balance = _with_platform(
        _settings(database_url), lambda p: admin.recharge(p, account, amount, actor="cli")
    )
    console.print(f"{account}: balance {balance}")


def _set_state(account: str, state: str, database_url: str | None) -> None:
    _with_platform(
        _settings(database_url),
        lambda p: admin.set_account(p, account, {"state": state}, actor="cli"),
    )
    console.print(f"{account}: {state}")


@account_app.command("disable")
def account_disable(account: str, database_url: DatabaseOption = None) -> None:
    """Disable an account (its requests get status 7)."""
    _set_state(account, "disabled", database_url)


@account_app.command("enable")
def account_enable(account: str, database_url: DatabaseOption = None) -> None:
    """Enable an account again."""
    _set_state(account, "active", database_url)


@account_app.command("edit")
def account_edit(
    account: str,
    default_kind: DefaultKindOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Change an account's settings by option (any field: `account set`)."""
    changes: dict[str, Any] = {}
    if default_kind is not None:
        changes["default_kind"] = default_kind
    if not changes:
        raise _fail("nothing to change: give an option, e.g. --default-kind marketing")
    updated = _with_platform(
        _settings(database_url), lambda p: admin.set_account(p, account, changes, actor="cli")
    )
    shown = updated.default_kind.value if updated.default_kind else "none (classified)"
    console.print(f"{account}: default kind {shown}", highlight=False)


@account_app.command("set")
def account_set(
    account: str,
    settings: Annotated[list[str], typer.Argument(help="field=value pairs")],
    database_url: DatabaseOption = None,
) -> None:
    """Change account fields, e.g. `refund_on_failure=true max_concurrency=5`."""
    changes: dict[str, Any] = {}
    for pair in settings:
        name, sep, value = pair.partition("=")
        if not sep:
            raise _fail(f"expected field=value, got {pair!r}")
        changes[name] = _coerce(value)
    _with_platform(
        _settings(database_url), lambda p: admin.set_account(p, account, changes, actor="cli")
    )
    console.print(f"{account}: updated {', '.join(changes)}")


def _coerce(value: str) -> Any:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return int(value) if value.lstrip("-").isdigit() else value
