"""An aiosqlite-shaped driver that runs SQLite statements on the calling thread.

SQLAlchemy's asyncio SQLite dialect talks to aiosqlite, which runs every statement on a
worker thread: each statement costs two thread hand-offs (about 200 µs measured here),
while the statement itself takes about 1 µs in WAL mode. For the embedded store that
hand-off *is* the cost of a request, so this module offers aiosqlite's interface with
coroutines that finish at once, and the engine (``store.engine``) plugs it into the same
dialect. The one SQLite operation that can take milliseconds — the WAL checkpoint, which
syncs the database file — is switched off here and run on a worker thread instead
(:func:`checkpoint`), so the event loop never waits on the disk.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any

from aiosqlite import __version__ as __version__  # the dialect reads the driver version

__all__ = ["Connection", "Cursor", "checkpoint", "connect"]

DatabaseError = sqlite3.DatabaseError
Error = sqlite3.Error
IntegrityError = sqlite3.IntegrityError
NotSupportedError = sqlite3.NotSupportedError
OperationalError = sqlite3.OperationalError
ProgrammingError = sqlite3.ProgrammingError
sqlite_version = sqlite3.sqlite_version
sqlite_version_info = sqlite3.sqlite_version_info


#: Prepared statements sqlite3 keeps per connection (its default, 128, is too few once the
#: hot statements of store.prepared join SQLAlchemy's).
STATEMENT_CACHE = 512


class Cursor:
    """A sqlite3 cursor behind aiosqlite's coroutine methods."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._cursor = connection.cursor()

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> Cursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> Cursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def nextset(self) -> None:
        return None

    async def close(self) -> None:
        self._cursor.close()


class _NoThread:
    """The dialect marks aiosqlite's worker thread as a daemon; there is none here."""

    daemon = True


class _Immediate:
    """Stands in for aiosqlite's request queue: runs each request as it is queued."""

    @staticmethod
    def put_nowait(item: tuple[Any, Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as error:
            future.set_exception(error)


class Connection:
    """A sqlite3 connection behind aiosqlite's interface."""

    _thread = _NoThread()
    _tx = _Immediate()

    def __init__(self, database: str, **kwargs: Any) -> None:
        kwargs.pop("check_same_thread", None)
        kwargs.setdefault("cached_statements", STATEMENT_CACHE)
        self._conn: sqlite3.Connection | None = sqlite3.connect(
            database, check_same_thread=False, **kwargs
        )
        self._conn.execute("PRAGMA wal_autocheckpoint=0")  # see checkpoint()

    def __await__(self) -> Generator[Any, None, Connection]:
        return self._ready().__await__()

    async def _ready(self) -> Connection:
        return self

    @property
    def _connection(self) -> sqlite3.Connection | None:
        return self._conn

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("Connection closed")
        return self._conn

    @property
    def sqlite(self) -> sqlite3.Connection:
        """The sqlite3 connection itself (:mod:`duanxin.store.prepared` runs on it)."""
        return self._open()

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    def cursor(self) -> Cursor:
        return Cursor(self._open())

    async def commit(self) -> None:
        self._open().commit()

    async def rollback(self) -> None:
        self._open().rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._open().create_function(*args, **kwargs)

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def connect(database: str, **kwargs: Any) -> Connection:
    return Connection(database, **kwargs)


#: A log longer than this (in pages of the WAL) is reset, not only copied back.
RESET_ABOVE_PAGES = 1024  # about 4 MB
#: How long the resetting checkpoint may keep the event loop's writer and readers waiting.
RESET_WAIT_MS = 100


def checkpoint(
    database: str, *, reset_above_pages: int = RESET_ABOVE_PAGES, wait_ms: int = RESET_WAIT_MS
) -> tuple[int, int]:
    """Copy the write-ahead log into the database file, and reset the log once it has grown
    past ``reset_above_pages`` (blocking: call from a thread). Returns the log's length in
    pages before and after.

    The passive checkpoint never waits, but it cannot shrink the log: SQLite starts the log
    over only when a writer finds every frame copied, and a writer that never pauses has
    always appended new frames by then — under sustained load the ``-wal`` file grows
    without end. So a long log is then checkpointed with ``TRUNCATE``, which holds new
    writers and waits for readers while it copies the few frames appended since the passive
    pass, then empties the file. The writer and readers run on the event loop, which such a
    wait stalls: it is bounded by ``wait_ms``, after which this checkpoint gives up (busy)
    and the next one tries again.
    """
    connection = sqlite3.connect(database, timeout=wait_ms / 1000)
    try:
        _busy, before, _copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if before <= reset_above_pages:
            return before, before
        _busy, after, _copied = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return before, max(after, 0)
    finally:
        connection.close()
