"""What the ``duanxin`` commands share: the console, settings, running against a platform,
and how an expected failure is told (one line naming the cause and what to do, exit 1;
``duanxin --debug`` shows the traceback instead)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from typer.core import TyperGroup
from typer.exceptions import TyperException

from duanxin.config import Settings, SettingsError, load_settings
from duanxin.service.errors import AdminError
from duanxin.service.platform import Platform
from duanxin.store.crypto import SecretsError
from duanxin.store.engine import is_sqlite, migrate

__all__ = [
    "ActorOption",
    "DatabaseOption",
    "Failure",
    "JsonOption",
    "RootGroup",
    "_fail",
    "_run",
    "_settings",
    "_with_platform",
    "console",
    "database_failure",
    "emit",
    "shown_url",
]

T = TypeVar("T")
DEBUG_ENV = "DUANXIN_DEBUG"
# Piped or redirected output is not cut at 80 columns: tables take the width they need.
console = Console(width=None if sys.stdout.isatty() else 10_000)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 10_000)

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url", help="Default: DUANXIN_DATABASE_URL, the settings file, or SQLite."
    ),
]
ActorOption = Annotated[str, typer.Option("--by", help="Who decides (for the audit log).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


class Failure(Exception):
    """An expected failure of a command: ``message`` is the one line shown."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _settings(database_url: str | None = None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        values["database_url"] = database_url
    return load_settings(**values)


def _fail(message: str) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}", highlight=False, markup=True, soft_wrap=True)
    return typer.Exit(code=1)


def emit(data: Any, as_json: bool, table: Callable[[], Table | str]) -> None:
    """``data`` as JSON (``--json``), else the table (or text) ``table`` makes."""
    if as_json:
        sys.stdout.write(json.dumps(data, default=str, ensure_ascii=False, indent=2) + "\n")
    else:
        console.print(table(), highlight=False)


def shown_url(url: str) -> str:
    """A database URL with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def _require_database(settings: Settings) -> None:
    """A missing SQLite file is a mistake (wrong directory, settings not exported), not a
    new database: only ``duanxin init`` and ``serve`` create one."""
    if not is_sqlite(settings.database_url):
        return
    database = make_url(settings.database_url).database
    if database and database != ":memory:" and not Path(database).exists():
        raise Failure(
            f"no database at {Path(database).resolve()}: run `duanxin init`, or point "
            "DUANXIN_CONFIG (the demo prints its export line) or --database-url at yours"
        )


def _with_platform(
    settings: Settings, action: Callable[[Platform], Awaitable[T]], *, create: bool = False
) -> T:
    if not create:
        _require_database(settings)

    async def run() -> T:
        try:
            await asyncio.to_thread(migrate, settings.database_url, settings.encryption_key)
        except (SQLAlchemyError, OSError) as error:
            raise database_failure(settings, error) from error
        platform = Platform.open(settings)
        try:
            return await action(platform)
        finally:
            await platform.close()

    return asyncio.run(run())


def database_failure(settings: Settings, error: BaseException) -> Failure:
    cause = error.orig if isinstance(error, DBAPIError) and error.orig else error
    reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
    return Failure(
        f"cannot use the database {shown_url(settings.database_url)}: {reason}; check that it "
        "runs and that --database-url / DUANXIN_DATABASE_URL is right"
    )


def failure_line(error: BaseException) -> str | None:
    """The one line for an expected failure, or None for a bug (shown with its traceback)."""
    if isinstance(error, Failure | AdminError | SettingsError | SecretsError):
        return str(error)
    if isinstance(error, IntegrityError):
        return "already exists (a name or number must be unique): choose another"
    if isinstance(error, SQLAlchemyError | ConnectionError):
        return f"database error: {str(error).splitlines()[0]}; check that the database runs"
    if isinstance(error, LookupError | ValueError):
        return str(error).strip("'\"")
    if isinstance(error, OSError):  # a port in use, a file that cannot be read ...
        return f"{error.strerror or error}" + (f": {error.filename}" if error.filename else "")
    return None


def debugging() -> bool:
    return os.environ.get(DEBUG_ENV, "") not in ("", "0")


class RootGroup(TyperGroup):
    """The ``duanxin`` group: expected failures become one line and exit code 1."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, TyperException):
            raise
        except Exception as error:
            line = failure_line(error)
            if line is None or debugging():
                raise
            raise _fail(line) from None


def _run(coroutine: Awaitable[None]) -> None:
    try:
        import uvloop

        uvloop.run(coroutine)  # type: ignore[arg-type]
    except ImportError:
        asyncio.run(coroutine)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        pass
