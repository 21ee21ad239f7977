"""The ``duanxin`` command.

One module per group of commands: :mod:`~duanxin.cli.platform` (``init``, ``serve``,
``demo``, ``simulate``, ``keygen``), :mod:`~duanxin.cli.customer` (``send``, ``balance``,
``reports``, ``replies``: the HTTP API, signed), :mod:`~duanxin.cli.accounts` (also API
keys and operator tokens), :mod:`~duanxin.cli.channels` (also ``number-override``),
:mod:`~duanxin.cli.bench`, :mod:`~duanxin.cli.review` (signatures and templates),
:mod:`~duanxin.cli.access` (customer CMPP/SMPP connections),
:mod:`~duanxin.cli.lists` (blacklist, opt-outs, words, frequency, audit) and
:mod:`~duanxin.cli.insight` (callback, stats, message, ledger),
:mod:`~duanxin.cli.operators` (the web console's users); what they share is in
:mod:`~duanxin.cli.common`. Commands are registered here, in the order
``duanxin --help`` lists them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from duanxin.cli import (
    access,
    accounts,
    bench,
    channels,
    customer,
    db,
    insight,
    lists,
    operators,
    platform,
    review,
)
from duanxin.cli.common import DEBUG_ENV, RootGroup
from duanxin.config import CONFIG_ENV

__all__ = ["app", "main"]

app = typer.Typer(
    help="duanxin: an SMS platform.",
    no_args_is_help=True,
    add_completion=False,
    cls=RootGroup,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help=f"Settings file (default: ${CONFIG_ENV}, else ./duanxin.toml if present).",
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of a failure.")
    ] = False,
) -> None:
    if config is not None:
        os.environ[CONFIG_ENV] = str(config.expanduser().resolve())
    if debug:
        os.environ[DEBUG_ENV] = "1"


app.command()(platform.init)
app.command()(platform.serve)
app.command()(platform.demo)
app.command()(customer.send)
app.command()(customer.balance)
app.command()(customer.reports)
app.command()(customer.replies)
app.command()(platform.simulate)
app.command()(platform.keygen)
app.command("number-override")(channels.number_override)
app.add_typer(db.db_app, name="db")
app.add_typer(accounts.account_app, name="account")
app.add_typer(accounts.key_app, name="key")
app.add_typer(accounts.token_app, name="token")
app.add_typer(channels.channel_app, name="channel")
app.add_typer(bench.bench_app, name="bench")
app.add_typer(review.signature_app, name="signature")
app.add_typer(review.template_app, name="template")
app.add_typer(lists.blacklist_app, name="blacklist")
app.add_typer(lists.optout_app, name="optout")
app.add_typer(lists.words_app, name="words")
app.add_typer(lists.frequency_app, name="frequency")
app.add_typer(lists.audit_app, name="audit")
app.add_typer(access.access_app, name="access")
app.add_typer(insight.callback_app, name="callback")
app.command("stats")(insight.stats_command)
app.add_typer(insight.message_app, name="message")
app.command("ledger")(insight.ledger)
app.add_typer(operators.operator_app, name="operator")


def main() -> None:
    """Entry point of the ``duanxin`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
