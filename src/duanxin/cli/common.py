"""What the ``duanxin`` commands share: the console, settings, running against a platform."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from duanxin.config import Settings
from duanxin.service.platform import Platform
from duanxin.store.engine import migrate

__all__ = [
    "ActorOption",
    "DatabaseOption",
    "_fail",
    "_run",
    "_settings",
    "_with_platform",
    "console",
]

T = TypeVar("T")
console = Console()

DatabaseOption = Annotated[
    str | None, typer.Option("--database-url", help="Default: DUANXIN_DATABASE_URL or SQLite.")
]
ActorOption = Annotated[str, typer.Option("--by", help="Who decides (for the audit log).")]


def _settings(database_url: str | None = None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        values["database_url"] = database_url
    return Settings(**values)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=1)


def _with_platform(settings: Settings, action: Callable[[Platform], Awaitable[T]]) -> T:
    async def run() -> T:
        await asyncio.to_thread(migrate, settings.database_url)
        platform = Platform.open(settings)
        try:
            return await action(platform)
        finally:
            await platform.close()

    try:
        return asyncio.run(run())
    except (LookupError, ValueError) as error:
        raise _fail(str(error)) from None


def _run(coroutine: Awaitable[None]) -> None:
    try:
        import uvloop

        uvloop.run(coroutine)  # type: ignore[arg-type]
    except ImportError:
        asyncio.run(coroutine)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        pass
