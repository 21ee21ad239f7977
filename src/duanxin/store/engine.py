"""Opening the database: SQLite (WAL, one writer connection) or PostgreSQL (asyncpg pool)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from duanxin.store import crypto, inline_sqlite

__all__ = [
    "checkpoint_periodically",
    "create_engine",
    "create_reader",
    "current_revision",
    "is_sqlite",
    "migrate",
]

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each commit in WAL mode
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """An async engine for ``url``.

    SQLite allows one writer at a time, so the embedded store uses a single connection:
    transactions queue for it in the event loop instead of failing with "database is locked".
    """
    if is_sqlite(url):
        engine = create_async_engine(
            url, module=_inline_driver(), pool_size=1, max_overflow=0, pool_timeout=60
        )
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def _sqlite_reader_pragmas(dbapi_connection: Any, record: Any) -> None:
    _sqlite_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()


def create_reader(url: str, *, pool_size: int = 4) -> AsyncEngine | None:
    """A separate pool of read-only connections for SQLite, or None where the main engine's
    pool already reads concurrently (PostgreSQL).

    In WAL mode readers never wait for the writer; they see every committed transaction.
    """
    if not is_sqlite(url):
        return None
    engine = create_async_engine(
        url, module=_inline_driver(), pool_size=pool_size, max_overflow=0, pool_timeout=60
    )
    event.listen(engine.sync_engine, "connect", _sqlite_reader_pragmas)
    return engine


def _inline_driver() -> AsyncAdapt_aiosqlite_dbapi:
    """The aiosqlite dialect's driver, with statements run inline (see inline_sqlite)."""
    return AsyncAdapt_aiosqlite_dbapi(inline_sqlite, sqlite3)


async def checkpoint_periodically(
    url: str, every: float, mine: Callable[[], bool] = lambda: True
) -> None:
    """Fold SQLite's write-ahead log into the database every ``every`` seconds, on a
    worker thread (the inline driver never checkpoints on the event loop); a round for
    which ``mine`` says no (another process on the file does it) is skipped."""
    database = make_url(url).database
    if not is_sqlite(url) or not database or database == ":memory:":
        return
    while True:
        await asyncio.sleep(every)
        if not mine():
            continue
        try:
            await asyncio.to_thread(inline_sqlite.checkpoint, database)
        except sqlite3.Error as error:
            log.warning("WAL checkpoint failed: %s", error)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, encryption_key: str | None = None) -> None:
    """Bring the database at ``url`` to the newest schema (blocking; call before serving).
    Processes starting together on PostgreSQL take turns (an advisory lock).

    ``encryption_key``: the settings' key, which migration 0009 encrypts existing secrets
    with (without one, the migration reads the settings itself).
    """
    if encryption_key:
        crypto.install(encryption_key)
    command.upgrade(alembic_config(url), "head")


def current_revision(url: str) -> str:
    """The newest migration's revision (what :func:`migrate` brings a database to)."""
    from alembic.script import ScriptDirectory

    return str(ScriptDirectory.from_config(alembic_config(url)).get_current_head())
