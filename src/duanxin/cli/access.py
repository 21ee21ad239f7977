"""``duanxin access``: the customer CMPP/SMPP servers."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from duanxin.cli.common import DatabaseOption, _settings, _with_platform, console
from duanxin.service import access
from duanxin.store.access import ConnectionRow

__all__ = ["access_app"]

access_app = typer.Typer(help="Customer CMPP/SMPP access.", no_args_is_help=True)


@access_app.command("connections")
def access_connections(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    database_url: DatabaseOption = None,
) -> None:
    """Who is logged in: account, protocol, bind type, peer, since, deliveries in flight."""
    rows: list[ConnectionRow] = _with_platform(_settings(database_url), access.list_connections)
    if as_json:
        listing = [
            {
                "account": r.account,
                "protocol": r.protocol,
                "bind_type": r.bind_type,
                "peer": r.peer,
                "since": r.since.isoformat(sep=" "),
                "in_flight": r.in_flight,
                "node_id": r.node_id,
                "consumer": r.consumer,
            }
            for r in rows
        ]
        console.print_json(json.dumps(listing, ensure_ascii=False))
        return
    table = Table("account", "protocol", "bind type", "peer", "since", "in flight", "node")
    for r in rows:
        table.add_row(
            r.account,
            r.protocol,
            r.bind_type,
            r.peer,
            r.since.isoformat(sep=" "),
            str(r.in_flight),
            str(r.node_id),
        )
    console.print(table)
