"""Opening the database: SQLite (WAL, one writer connection) or PostgreSQL (asyncpg pool)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["create_engine", "create_reader", "is_sqlite", "migrate"]

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
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=60)
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
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=60)
    event.listen(engine.sync_engine, "connect", _sqlite_reader_pragmas)
    return engine


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (blocking; call before serving)."""
    command.upgrade(alembic_config(url), "head")
