"""``duanxin operator``: the web console's operator users."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from duanxin.cli.common import ActorOption, DatabaseOption, _settings, _with_platform, console
from duanxin.service import console_auth
from duanxin.service.platform import Platform

__all__ = ["operator_app"]

operator_app = typer.Typer(help="Operator users of the web console.", no_args_is_help=True)


@operator_app.command("add")
def operator_add(
    name: Annotated[str, typer.Argument(help="The name to sign in with.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    database_url: DatabaseOption = None,
) -> None:
    """Add an operator user (the password is stored as an argon2 hash)."""

    async def action(platform: Platform) -> None:
        await console_auth.add_operator(platform, name, password, "cli")
        console.print(f"operator {name} added; sign in at /console/login")

    _with_platform(_settings(database_url), action)


@operator_app.command("list")
def operator_list(database_url: DatabaseOption = None) -> None:
    """List operator users."""

    async def action(platform: Platform) -> None:
        table = Table("name", "enabled", "created")
        for name, enabled, created in await console_auth.list_operators(platform):
            table.add_row(name, "yes" if enabled else "no", str(created))
        console.print(table)

    _with_platform(_settings(database_url), action)


def _set_enabled(name: str, enabled: bool, by: str, database_url: str | None) -> None:
    async def action(platform: Platform) -> None:
        ended = await console_auth.set_operator_enabled(platform, name, enabled, by)
        if enabled:
            console.print(f"operator {name} enabled")
        else:
            console.print(f"operator {name} disabled; {ended} console sessions ended")

    _with_platform(_settings(database_url), action)


@operator_app.command("disable")
def operator_disable(
    name: Annotated[str, typer.Argument(help="The operator user.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Disable an operator user: it cannot sign in, and its open sessions end now."""
    _set_enabled(name, False, by, database_url)


@operator_app.command("enable")
def operator_enable(
    name: Annotated[str, typer.Argument(help="The operator user.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Enable an operator user again."""
    _set_enabled(name, True, by, database_url)
