"""The operator's lists: ``blacklist``, ``optout``, ``words``, ``frequency`` and ``audit``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from duanxin.cli.common import (
    ActorOption,
    DatabaseOption,
    JsonOption,
    _fail,
    _settings,
    _with_platform,
    console,
    emit,
)
from duanxin.service.platform import Platform

__all__ = ["audit_app", "blacklist_app", "frequency_app", "optout_app", "words_app"]

blacklist_app = typer.Typer(help="The global blacklist of numbers.", no_args_is_help=True)
optout_app = typer.Typer(help="Per-account opt-out lists.", no_args_is_help=True)
words_app = typer.Typer(help="The sensitive-word list.", no_args_is_help=True)
frequency_app = typer.Typer(help="Per-number frequency limits.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of operator decisions.", no_args_is_help=True)


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"cannot read {file}: {error}") from None


def _print_import(done: Any) -> None:
    line = f"added {done.added}, already listed {done.known}, invalid {done.invalid}"
    if done.invalid_examples and not done.bad_lines:
        line += f" (e.g. {', '.join(done.invalid_examples[:3])})"
    console.print(line, highlight=False)
    for bad in done.bad_lines:
        typer.echo(f"  line {bad.line}: {bad.text}: {bad.reason}")
    if done.invalid > len(done.bad_lines):
        typer.echo(f"  ... and {done.invalid - len(done.bad_lines)} more bad lines")


@blacklist_app.command("add")
def blacklist_add(
    mobiles: Annotated[list[str], typer.Argument(help="Numbers.")],
    reason: Annotated[str, typer.Option()] = "",
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Put numbers on the global blacklist."""
    from duanxin.service import lists

    _print_import(
        _with_platform(
            _settings(database_url), lambda p: lists.blacklist_add(p, mobiles, by, reason)
        )
    )


@blacklist_app.command("import")
def blacklist_import(
    file: Annotated[
        Path, typer.Argument(help="Numbers, one per line (or a CSV, first column).", exists=True)
    ],
    reason: Annotated[str, typer.Option()] = "",
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Import a file of numbers into the global blacklist (bad lines are listed)."""
    from duanxin.service import lists

    text = _read_text(file)
    _print_import(
        _with_platform(
            _settings(database_url), lambda p: lists.blacklist_import(p, text, by, reason)
        )
    )


@blacklist_app.command("remove")
def blacklist_remove(
    mobiles: Annotated[list[str], typer.Argument(help="Numbers.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Take numbers off the global blacklist."""
    from duanxin.service import lists

    removed = _with_platform(
        _settings(database_url), lambda p: lists.blacklist_remove(p, mobiles, by)
    )
    console.print(f"removed {removed}")


@blacklist_app.command("list")
def blacklist_list(
    limit: Annotated[int, typer.Option()] = 1000,
    offset: Annotated[int, typer.Option()] = 0,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """List blacklisted numbers."""
    from duanxin.service import lists

    total, rows = _with_platform(
        _settings(database_url), lambda p: lists.blacklist_list(p, limit, offset)
    )
    if as_json:
        emit({"total": total, "list": rows}, True, str)
        return
    table = Table("mobile", "reason", "since")
    for row in rows:
        table.add_row(row["mobile"], row["reason"], str(row["created_at"]))
    console.print(table)
    console.print(f"{total} numbers on the blacklist")


@optout_app.command("add")
def optout_add(
    account: str,
    mobiles: Annotated[list[str], typer.Argument(help="Numbers.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Put numbers on an account's opt-out list."""
    from duanxin.service import lists

    _print_import(
        _with_platform(_settings(database_url), lambda p: lists.optout_add(p, account, mobiles, by))
    )


@optout_app.command("import")
def optout_import(
    account: str,
    file: Annotated[
        Path, typer.Argument(help="Numbers, one per line (or a CSV, first column).", exists=True)
    ],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Import a file of numbers into an account's opt-out list (bad lines are listed)."""
    from duanxin.service import lists

    text = _read_text(file)
    _print_import(
        _with_platform(_settings(database_url), lambda p: lists.optout_import(p, account, text, by))
    )


@optout_app.command("remove")
def optout_remove(
    account: str,
    mobiles: Annotated[list[str], typer.Argument(help="Numbers.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Take numbers off an account's opt-out list."""
    from duanxin.service import lists

    removed = _with_platform(
        _settings(database_url), lambda p: lists.optout_remove(p, account, mobiles, by)
    )
    console.print(f"removed {removed}")


@optout_app.command("list")
def optout_list(
    account: str, as_json: JsonOption = False, database_url: DatabaseOption = None
) -> None:
    """List an account's opted-out numbers."""
    from duanxin.service import lists

    rows = _with_platform(_settings(database_url), lambda p: lists.optout_list(p, account))
    if as_json:
        emit(rows, True, str)
        return
    for row in rows:
        console.print(f"{row['mobile']}  {row['created_at']}", highlight=False)
    console.print(f"{len(rows)} numbers opted out of {account}")


@words_app.command("add")
def words_add(
    word: str,
    category: Annotated[str, typer.Option(help="Named in refusals.")] = "default",
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Add a sensitive word (or move it to another category)."""
    from duanxin.service import lists

    added = _with_platform(
        _settings(database_url), lambda p: lists.words_add(p, word, by, category)
    )
    console.print("added" if added else f"already listed; category now {category}")


@words_app.command("import")
def words_import(
    file: Annotated[
        Path, typer.Argument(help="word<TAB>category lines (a .csv: word,category).", exists=True)
    ],
    category: Annotated[str, typer.Option(help="For lines without one.")] = "default",
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Import a word file (UTF-8; '#' comments; word<TAB>category or word alone; a .csv:
    word,category). All or nothing: every bad line is listed and none is imported."""
    from duanxin.domain.policy.files import ListFileError
    from duanxin.service import lists

    text = _read_text(file)
    csv = file.suffix.lower() == ".csv"
    try:
        added = _with_platform(
            _settings(database_url), lambda p: lists.words_import(p, text, by, category, csv=csv)
        )
    except ListFileError as error:
        for bad in error.bad:
            typer.echo(f"  line {bad.line}: {bad.text}: {bad.reason}", err=True)
        raise _fail(f"{error.count} bad lines; nothing was imported") from None
    console.print(f"added {added} new words")


@words_app.command("remove")
def words_remove(
    words: Annotated[list[str], typer.Argument()],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Remove sensitive words."""
    from duanxin.service import lists

    removed = _with_platform(_settings(database_url), lambda p: lists.words_remove(p, words, by))
    console.print(f"removed {removed}")


@words_app.command("list")
def words_list(
    show_words: Annotated[bool, typer.Option("--words", help="Print the words too.")] = False,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Words per category (the words themselves with --words)."""
    from duanxin.service import lists

    async def action(platform: Platform) -> tuple[dict[str, int], list[dict[str, str]]]:
        categories = await lists.words_categories(platform)
        listed = await lists.words_list(platform, category) if show_words else []
        return categories, listed

    categories, listed = _with_platform(_settings(database_url), action)
    if as_json:
        emit({"categories": categories, "words": listed}, True, str)
        return
    table = Table("category", "words")
    for name, count in categories.items():
        if category is None or name == category:
            table.add_row(name, str(count))
    console.print(table)
    for entry in listed:
        typer.echo(f"{entry['word']}\t{entry['category']}")  # the word-file format


@frequency_app.command("set")
def frequency_set(
    account: str,
    scope: Annotated[str, typer.Argument(help="verification, notification, marketing, platform.")],
    limits: Annotated[
        str, typer.Argument(help="e.g. '1/min, 5/hour, 10/day'; 'none': no limit; 'default'.")
    ],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Override an account's per-number limits for one kind (or the platform-wide one)."""
    from duanxin.service import lists

    value = {"default": None, "none": ""}.get(limits.strip().lower(), limits)
    shown = _with_platform(
        _settings(database_url), lambda p: lists.frequency_set(p, account, scope, value, by)
    )
    _print_frequency(account, shown)


@frequency_app.command("show")
def frequency_show(
    account: str, as_json: JsonOption = False, database_url: DatabaseOption = None
) -> None:
    """The per-number limits in force for an account."""
    from duanxin.service import lists

    shown = _with_platform(_settings(database_url), lambda p: lists.frequency_show(p, account))
    if as_json:
        emit(shown, True, str)
        return
    _print_frequency(account, shown)


def _print_frequency(account: str, shown: dict[str, dict[str, Any]]) -> None:
    table = Table("scope", "limits", "set by operator")
    for scope, row in shown.items():
        table.add_row(scope, row["limits"] or "none", "yes" if row["overridden"] else "default")
    console.print(f"{account}:")
    console.print(table)


@audit_app.command("list")
def audit_list(
    limit: Annotated[int, typer.Option()] = 50,
    actor: Annotated[str | None, typer.Option(help="Only this operator.")] = None,
    action: Annotated[str | None, typer.Option(help="Action prefix, e.g. signature.")] = None,
    as_json: JsonOption = False,
    database_url: DatabaseOption = None,
) -> None:
    """Who did what, when: the latest operator decisions first."""
    from duanxin.service import lists

    rows = _with_platform(
        _settings(database_url), lambda p: lists.audit_list(p, limit, actor, action)
    )
    if as_json:
        emit(rows, True, str)
        return
    table = Table("when", "who", "action", "subject", "detail")
    for row in rows:
        detail = json.dumps(row["detail"], ensure_ascii=False, default=str)
        table.add_row(str(row["created_at"]), row["actor"], row["action"], row["subject"], detail)
    console.print(table)
