"""``duanxin account``: customer accounts; ``duanxin key``: their API keys;
``duanxin token``: operator tokens."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from duanxin.cli.common import (
    DatabaseOption,
    JsonOption,
    _fail,
    _settings,
    _with_platform,
    console,
    emit,
)
from duanxin.domain.accounts import AccessType, Account
from duanxin.domain.billing import ChargeType
from duanxin.service import admin, keys
from duanxin.service.platform import Platform

__all__ = ["account_app", "key_app", "token_app"]

account_app = typer.Typer(help="Customer accounts.", no_args_is_help=True)
key_app = typer.Typer(help="API keys (SecretId/SecretKey) of customers.", no_args_is_help=True)
token_app = typer.Typer(help="Operator tokens (the /admin REST API).", no_args_is_help=True)

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
        opened = await admin.open_account(
            platform,
            customer,
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
            "cli",
        )
        console.print(f"account {account} created for customer {customer}")
        key = opened.key
        if key is not None:
            console.print(f"SecretId:  {key.secret_id}\nSecretKey: {key.secret_key} (shown once)")

    _with_platform(_settings(database_url), action)


def account_view(account: Account) -> dict[str, Any]:
    """An account as shown (never its password)."""
    view = asdict(account)
    view.pop("password")
    return view


@account_app.command("list")
def account_list(as_json: JsonOption = False, database_url: DatabaseOption = None) -> None:
    """List accounts."""
    rows = _with_platform(_settings(database_url), admin.list_accounts)

    def table() -> Table:
        shown = Table("account", "spid", "state", "charge", "balance", "access")
        for a in rows:
            shown.add_row(a.account, a.spid, a.state, a.charge_type, str(a.balance), a.access_type)
        return shown

    emit([account_view(a) for a in rows], as_json, table)


@account_app.command("show")
def account_show(
    account: str, as_json: JsonOption = True, database_url: DatabaseOption = None
) -> None:
    """Show one account's settings (password hidden), as JSON."""
    found = _with_platform(_settings(database_url), lambda p: admin.find_account(p, account))
    view = account_view(found)
    emit(view, True, lambda: "")


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


def _when(value: datetime | None) -> str:
    return value.isoformat(sep=" ") if value else ""


@key_app.command("issue")
def key_issue(
    customer: Annotated[str, typer.Argument(help="The customer (see `account create`).")],
    expires: Annotated[
        datetime | None, typer.Option(help="Refused from then on (platform local time).")
    ] = None,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Issue another SecretId/SecretKey pair to a customer (the SecretKey is shown once)."""
    issued = _with_platform(
        _settings(database_url), lambda p: keys.issue_key(p, customer, "cli", expires)
    )
    emit(
        asdict(issued),
        as_json,
        lambda: f"SecretId:  {issued.secret_id}\nSecretKey: {issued.secret_key} (shown once)",
    )


@key_app.command("list")
def key_list(
    customer: Annotated[str | None, typer.Argument(help="Only this customer's.")] = None,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """List API keys (never their secrets)."""
    rows = _with_platform(_settings(database_url), lambda p: keys.list_keys(p, customer))

    def table() -> Table:
        shown = Table("secret id", "customer", "state", "created", "expires", "revoked")
        for k in rows:
            shown.add_row(
                k.secret_id,
                k.customer,
                k.state.value,
                _when(k.created_at),
                _when(k.expires_at),
                _when(k.revoked_at),
            )
        return shown

    emit([asdict(k) for k in rows], as_json, table)


@key_app.command("revoke")
def key_revoke(secret_id: str, database_url: DatabaseOption = None) -> None:
    """Revoke an API key: its signatures are refused (401) from now on."""
    _with_platform(_settings(database_url), lambda p: keys.revoke_key(p, secret_id, "cli"))
    console.print(f"{secret_id}: revoked", highlight=False)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="Whose token (audited under this name).")],
    database_url: DatabaseOption = None,
) -> None:
    """Issue an operator token (shown once)."""
    token = _with_platform(_settings(database_url), lambda p: admin.create_operator_token(p, name))
    console.print(f"operator token (shown once): {token}", highlight=False)


@token_app.command("list")
def token_list(as_json: JsonOption = False, database_url: DatabaseOption = None) -> None:
    """List operator tokens by id (the start of their hash) and name."""
    rows = _with_platform(_settings(database_url), keys.list_tokens)

    def table() -> Table:
        shown = Table("id", "name", "state", "created", "revoked")
        for t in rows:
            shown.add_row(t.id, t.name, t.state.value, _when(t.created_at), _when(t.revoked_at))
        return shown

    emit([asdict(t) for t in rows], as_json, table)


@token_app.command("revoke")
def token_revoke(token_id: str, database_url: DatabaseOption = None) -> None:
    """Revoke an operator token (by its id from `token list`)."""
    _with_platform(_settings(database_url), lambda p: keys.revoke_token(p, token_id, "cli"))
    console.print(f"{token_id}: revoked", highlight=False)
