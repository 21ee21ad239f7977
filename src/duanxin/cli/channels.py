"""``duanxin channel``: carrier channels and routes; ``number-override``: numbers that moved."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from duanxin.cli.common import DatabaseOption, _settings, _with_platform, console
from duanxin.domain.encoding import Alphabet
from duanxin.domain.reports import LongReport
from duanxin.service import admin

__all__ = ["channel_app", "number_override"]

channel_app = typer.Typer(help="Carrier channels and routes.", no_args_is_help=True)

AlphabetOption = Annotated[
    Alphabet | None,
    typer.Option(
        help="SMPP: the carrier's default alphabet, what data_coding 0 means for text sent "
        "and received (default ascii)."
    ),
]


@channel_app.command("add")
def channel_add(
    name: str,
    protocol: Annotated[str, typer.Option(help="cmpp, sgip, smgp or smpp.")],
    host: Annotated[str, typer.Option()],
    port: Annotated[int, typer.Option()],
    account: Annotated[str, typer.Option(help="SP_Id / login name / ClientID / system_id.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    access_code: Annotated[str, typer.Option(help="The channel's source number.")],
    service_id: Annotated[str, typer.Option()] = "",
    sp_code: Annotated[str, typer.Option()] = "",
    version: Annotated[int | None, typer.Option(help="CMPP: 32 (2.0) or 48 (3.0).")] = None,
    window: Annotated[int, typer.Option()] = 16,
    tps: Annotated[int, typer.Option(help="0: unlimited.")] = 0,
    long_report: Annotated[LongReport, typer.Option()] = LongReport.ALL,
    max_connections: Annotated[int, typer.Option(help="Connections to the gateway.")] = 1,
    alphabet: AlphabetOption = None,
    settings: Annotated[
        str,
        typer.Option(
            help="JSON object of channel settings: response_timeout, heartbeat_interval, "
            "retry_attempts, retry_backoff, retry_backoff_max, retry_window (README)."
        ),
    ] = "{}",
    database_url: DatabaseOption = None,
) -> None:
    """Add a carrier channel."""
    try:
        extra = json.loads(settings)
    except json.JSONDecodeError as error:
        raise typer.BadParameter(f"--settings is not JSON: {error}") from None
    if not isinstance(extra, dict):
        raise typer.BadParameter("--settings must be a JSON object")
    if alphabet is not None:
        extra["alphabet"] = alphabet.value
    spec = admin.ChannelSpec(
        name=name,
        protocol=protocol,
        host=host,
        port=port,
        account=account,
        password=password,
        access_code=access_code,
        service_id=service_id,
        sp_code=sp_code,
        version=version,
        window=window,
        tps=tps,
        long_report=long_report,
        max_connections=max_connections,
        settings=extra,
    )
    _with_platform(_settings(database_url), lambda p: admin.add_channel(p, spec, actor="cli"))
    console.print(f"channel {name} added")


@channel_app.command("edit")
def channel_edit(
    name: str,
    alphabet: AlphabetOption = None,
    database_url: DatabaseOption = None,
) -> None:
    """Change a channel's settings (a running platform uses them once restarted)."""
    changes = {} if alphabet is None else {"alphabet": alphabet.value}
    if not changes:
        raise typer.BadParameter("nothing to change: give --alphabet")
    settings = _with_platform(
        _settings(database_url),
        lambda p: admin.update_channel_settings(p, name, changes, actor="cli"),
    )
    console.print(f"channel {name}: " + ", ".join(f"{k}={v}" for k, v in settings.items()))


@channel_app.command("list")
def channel_list(database_url: DatabaseOption = None) -> None:
    """List channels."""
    rows = _with_platform(_settings(database_url), admin.list_channels)
    table = Table(
        "name", "protocol", "address", "access code", "window", "tps", "alphabet", "enabled"
    )
    for row in rows:
        table.add_row(
            row["name"],
            row["protocol"],
            f"{row['host']}:{row['port']}",
            row["access_code"],
            str(row["window"]),
            str(row["tps"]),
            (row["settings"] or {}).get("alphabet", Alphabet.ASCII.value),
            str(row["enabled"]),
        )
    console.print(table)


@channel_app.command("route")
def channel_route(
    account: str,
    carrier: Annotated[str, typer.Argument(help="cmcc, cucc or ctcc.")],
    channels: Annotated[list[str], typer.Argument(help="Channel names, most preferred first.")],
    database_url: DatabaseOption = None,
) -> None:
    """Set an account's ordered channels for one carrier."""
    _with_platform(
        _settings(database_url),
        lambda p: admin.add_route(p, account, carrier, channels, actor="cli"),
    )
    console.print(f"{account} {carrier}: {' → '.join(channels)}")


@channel_app.command("disable")
def channel_disable(name: str, database_url: DatabaseOption = None) -> None:
    """Stop using a channel."""
    _with_platform(
        _settings(database_url), lambda p: admin.set_channel_enabled(p, name, False, actor="cli")
    )


@channel_app.command("enable")
def channel_enable(name: str, database_url: DatabaseOption = None) -> None:
    """Use a channel again."""
    _with_platform(
        _settings(database_url), lambda p: admin.set_channel_enabled(p, name, True, actor="cli")
    )


def number_override(
    mobile: Annotated[str, typer.Argument(help="11-digit number that moved network.")],
    carrier: Annotated[str, typer.Argument(help="cmcc, cucc or ctcc; 'none' removes it.")],
    database_url: DatabaseOption = None,
) -> None:
    """Record a number that moved to another network (携号转网)."""
    _with_platform(
        _settings(database_url),
        lambda p: admin.set_number_override(p, mobile, None if carrier == "none" else carrier),
    )
    console.print(f"{mobile}: {carrier}")
