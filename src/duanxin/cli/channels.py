"""``duanxin channel``: carrier channels and routes; ``number-override``: numbers that moved."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from duanxin.cli.common import (
    DatabaseOption,
    Failure,
    JsonOption,
    _settings,
    _with_platform,
    console,
    emit,
)
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
    extra = _json_object(settings)
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


def _json_object(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise Failure(f"--settings is not JSON: {error}") from None
    if not isinstance(value, dict):
        raise Failure("--settings must be a JSON object, e.g. '{\"response_timeout\": 10}'")
    return value


@channel_app.command("edit")
def channel_edit(
    name: str,
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
    account: Annotated[str | None, typer.Option()] = None,
    password: Annotated[str | None, typer.Option()] = None,
    access_code: Annotated[str | None, typer.Option()] = None,
    service_id: Annotated[str | None, typer.Option()] = None,
    sp_code: Annotated[str | None, typer.Option()] = None,
    version: Annotated[int | None, typer.Option()] = None,
    window: Annotated[int | None, typer.Option()] = None,
    tps: Annotated[int | None, typer.Option()] = None,
    max_connections: Annotated[int | None, typer.Option()] = None,
    long_report: Annotated[LongReport | None, typer.Option()] = None,
    alphabet: AlphabetOption = None,
    settings: Annotated[
        str | None, typer.Option(help="JSON object merged into the channel's settings.")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Change a channel (a running platform uses the change once restarted)."""
    given = {
        "host": host,
        "port": port,
        "account": account,
        "password": password,
        "access_code": access_code,
        "service_id": service_id,
        "sp_code": sp_code,
        "version": version,
        "window": window,
        "tps": tps,
        "max_connections": max_connections,
        "long_report": long_report.value if long_report else None,
    }
    changes: dict[str, object] = {k: v for k, v in given.items() if v is not None}
    extra = _json_object(settings) if settings is not None else {}
    if alphabet is not None:
        extra["alphabet"] = alphabet.value
    if extra:
        changes["settings"] = extra
    if not changes:
        raise Failure("nothing to change: give an option, e.g. --port 7891 or --alphabet gsm7")
    _with_platform(
        _settings(database_url), lambda p: admin.edit_channel(p, name, changes, actor="cli")
    )
    flat = {**{k: v for k, v in changes.items() if k != "settings"}, **extra}
    shown = ", ".join(f"{k}={'***' if k == 'password' else v}" for k, v in flat.items())
    console.print(f"channel {name}: {shown}", highlight=False)


@channel_app.command("remove")
def channel_remove(name: str, database_url: DatabaseOption = None) -> None:
    """Remove a channel and its routes (one that carried messages can only be disabled)."""
    _with_platform(_settings(database_url), lambda p: admin.remove_channel(p, name, actor="cli"))
    console.print(f"channel {name} removed", highlight=False)


@channel_app.command("list")
def channel_list(as_json: JsonOption = False, database_url: DatabaseOption = None) -> None:
    """List channels."""
    rows = _with_platform(_settings(database_url), admin.list_channels)

    def table() -> Table:
        shown = Table(
            "name", "protocol", "address", "access code", "window", "tps", "alphabet", "enabled"
        )
        for row in rows:
            shown.add_row(
                row["name"],
                row["protocol"],
                f"{row['host']}:{row['port']}",
                row["access_code"],
                str(row["window"]),
                str(row["tps"]),
                (row["settings"] or {}).get("alphabet", Alphabet.ASCII.value),
                str(row["enabled"]),
            )
        return shown

    emit(rows, as_json, table)


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
    console.print(f"channel {name}: disabled", highlight=False)


@channel_app.command("enable")
def channel_enable(name: str, database_url: DatabaseOption = None) -> None:
    """Use a channel again."""
    _with_platform(
        _settings(database_url), lambda p: admin.set_channel_enabled(p, name, True, actor="cli")
    )
    console.print(f"channel {name}: enabled", highlight=False)


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
