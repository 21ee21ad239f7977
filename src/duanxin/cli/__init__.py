"""The ``duanxin`` command.

One module per group of commands: :mod:`~duanxin.cli.platform` (``init``, ``serve``,
``demo``, ``send``, ``simulate``), :mod:`~duanxin.cli.accounts`, :mod:`~duanxin.cli.channels`
(also ``number-override``), :mod:`~duanxin.cli.bench`, :mod:`~duanxin.cli.review`
(signatures and templates), :mod:`~duanxin.cli.lists` (blacklist, opt-outs, words,
frequency, audit) and :mod:`~duanxin.cli.operators` (the console's users); what they share
is in :mod:`~duanxin.cli.common`. Commands are registered here, in the order
``duanxin --help`` lists them.
"""

from __future__ import annotations

import sys

import typer

from duanxin.cli import accounts, bench, channels, lists, operators, platform, review

__all__ = ["app", "main"]

app = typer.Typer(help="duanxin: an SMS platform.", no_args_is_help=True, add_completion=False)
app.command()(platform.init)
app.command()(platform.serve)
app.command()(platform.demo)
app.command()(platform.send)
app.command()(platform.simulate)
app.command("number-override")(channels.number_override)
app.add_typer(accounts.account_app, name="account")
app.add_typer(channels.channel_app, name="channel")
app.add_typer(bench.bench_app, name="bench")
app.add_typer(review.signature_app, name="signature")
app.add_typer(review.template_app, name="template")
app.add_typer(lists.blacklist_app, name="blacklist")
app.add_typer(lists.optout_app, name="optout")
app.add_typer(lists.words_app, name="words")
app.add_typer(lists.frequency_app, name="frequency")
app.add_typer(lists.audit_app, name="audit")
app.add_typer(operators.operator_app, name="operator")


def main() -> None:
    """Entry point of the ``duanxin`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
