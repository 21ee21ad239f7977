"""Hot statements executed through the database driver itself, past SQLAlchemy's Python layer.

Every send, claim, submit record and report match runs the same few statements. Through
SQLAlchemy Core each execution costs far more in Python (compiling from the cache key,
binding, result set-up, two greenlet switches) than in the database: about a third of a
one-number send's CPU, against 8 % in SQLite itself. Here such a statement is written
once (:class:`Sql`, PostgreSQL's ``$n`` spelling, translated for SQLite) and run on the
raw driver connection under the :class:`~sqlalchemy.ext.asyncio.AsyncConnection` the
store function was given: sqlite3's own statement cache on the inline SQLite connection
(:mod:`duanxin.store.inline_sqlite`), asyncpg's prepared-statement cache on PostgreSQL
(``executemany`` for batches on both). The statement joins that connection's transaction,
so group commit and every ``engine.begin()`` block keep their meaning: a write is durable
when, and only when, its transaction commits (SQLAlchemy's, or one :func:`begin` opened
on the driver itself, as the group commit does). (A read on a connection with no transaction
yet, such as the reader pool's, runs without opening one.)

The schema, migrations and every cold path stay on SQLAlchemy. Errors are the driver's
own (``sqlite3.Error``, ``asyncpg.PostgresError``), not SQLAlchemy's wrappers.

What the drivers differ in is handled here, once: ``= ANY($n)`` (a list parameter) is
spelled out as ``IN (?, ?, ...)`` for SQLite; times go to SQLite as the text SQLAlchemy's
``DateTime`` writes (so both layers read and compare each other's rows), and the result
columns a statement names in ``times`` come back as ``datetime``.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = [
    "MAX_LIST",
    "KeptReader",
    "Sql",
    "begin",
    "commit",
    "execute",
    "execute_many",
    "fetch",
    "rollback",
    "sqlite_time",
]

Row = Sequence[Any]

_PARAMETER = re.compile(r"=\s*ANY\(\$(\d+)\)|\$(\d+)")
# Above this many values a list parameter would pass SQLite's limit of bound variables.
MAX_LIST = 30_000
# The texts kept per statement, one per combination of list lengths.
MAX_TEXTS = 1024


class Sql:
    """One statement, written once for both backends.

    ``text`` is PostgreSQL's spelling (``$1``, ``$2`` ...; ``col = ANY($n)`` for a list);
    ``times`` are the positions of result columns that hold times.
    """

    __slots__ = (
        "_expanded", "_listed", "_literals", "_order", "_slots", "postgresql", "reads", "times",
    )  # fmt: skip

    def __init__(self, text: str, *, times: Sequence[int] = ()) -> None:
        self.postgresql = " ".join(text.split())
        self.times = tuple(times)
        self.reads = self.postgresql[:6].upper() == "SELECT"
        # SQLite binds ``?`` in order of appearance; a list is spelled out as ``IN (?, ?)``
        # for its length (``IN (SELECT value FROM json_each(?))`` would be one text for
        # every length, but costs SQLite an index built per execution: 46 µs, not 3).
        self._literals: list[str] = []
        self._slots: list[tuple[int, bool]] = []  # (argument index, is a list)
        position = 0
        for match in _PARAMETER.finditer(self.postgresql):
            self._literals.append(self.postgresql[position : match.start()])
            listed, single = match.groups()
            self._slots.append((int(listed or single) - 1, listed is not None))
            position = match.end()
        self._literals.append(self.postgresql[position:])
        order = tuple(index for index, _ in self._slots)
        self._order = None if order == tuple(range(len(order))) else order
        self._listed = any(listed for _, listed in self._slots)
        self._expanded: dict[tuple[int, ...], str] = {}
        if not self._listed:
            self._expanded[()] = "?".join(self._literals)

    def __repr__(self) -> str:
        return f"Sql({self.postgresql!r})"

    def for_sqlite_rows(self, rows: Iterable[Row]) -> tuple[str, Iterable[Row]]:
        """The SQLite text and the rows of arguments, for ``executemany`` (no lists)."""
        if self._listed:
            raise TypeError("a statement with a list parameter runs once, not per row")
        text = self._expanded[()]
        order = self._order
        if order is None:
            return text, rows
        return text, [[row[index] for index in order] for row in rows]

    def for_sqlite(self, args: Sequence[Any]) -> tuple[str, Sequence[Any]]:
        """The SQLite text and its arguments, for these ``args``."""
        if not self._listed:
            text = self._expanded[()]
            if self._order is None:
                return text, args
            return text, [args[index] for index in self._order]
        lengths = tuple(len(args[index]) for index, listed in self._slots if listed)
        found = self._expanded.get(lengths)
        if found is None:
            if max(lengths) > MAX_LIST:
                raise ValueError(f"a list parameter holds more than {MAX_LIST} values")
            if len(self._expanded) >= MAX_TEXTS:
                self._expanded.clear()
            parts = [self._literals[0]]
            for (_, listed), length, literal in zip(
                self._slots, _lengths(self._slots, lengths), self._literals[1:], strict=True
            ):
                parts.append(f"IN ({', '.join('?' * length)})" if listed else "?")
                parts.append(literal)
            found = self._expanded[lengths] = "".join(parts)
        flat: list[Any] = []
        for index, listed in self._slots:
            if listed:
                flat.extend(args[index])
            else:
                flat.append(args[index])
        return found, flat


def _lengths(slots: list[tuple[int, bool]], lengths: tuple[int, ...]) -> list[int]:
    found = iter(lengths)
    return [next(found) if listed else 1 for _, listed in slots]


def sqlite_time(moment: datetime) -> str:
    """A time as SQLAlchemy's SQLite ``DateTime`` stores it (always with microseconds, no
    zone)."""
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None)
    text = moment.isoformat(" ")
    return text if moment.microsecond else text + ".000000"


# sqlite3 adapts times itself, in C, when they are bound: a 500-row batch of 20 columns
# costs no Python call per value. (SQLAlchemy binds times as text already, so nothing
# else in the process is affected.)
sqlite3.register_adapter(datetime, sqlite_time)


def _sqlite_row(row: Row, times: tuple[int, ...]) -> tuple[Any, ...]:
    values = list(row)
    for index in times:
        text = values[index]
        if text is not None:
            values[index] = datetime.fromisoformat(text)
    return tuple(values)


async def _driver(conn: AsyncConnection, sql: Sql) -> tuple[Any, bool]:
    """The driver connection under ``conn``, in its transaction, and whether it is sqlite3
    (else asyncpg)."""
    if conn.in_transaction():
        return await _raw(conn, begin=True)
    driver, sqlite = await _raw(conn, begin=False)
    if sql.reads or _driver_in_transaction(driver, sqlite=sqlite):
        # A lone read needs no transaction (nor SQLAlchemy's greenlet hop); one begun on
        # the driver itself (:func:`begin`) is joined.
        return driver, sqlite
    await conn.begin()  # as SQLAlchemy's autobegin would: its commit() then commits
    return await _raw(conn, begin=True)


def _driver_in_transaction(driver: Any, *, sqlite: bool) -> bool:
    return bool(driver.in_transaction if sqlite else driver.is_in_transaction())


async def _raw(conn: AsyncConnection, *, begin: bool) -> tuple[Any, bool]:
    sync = conn.sync_connection
    if sync is None:
        await conn.start()
        sync = conn.sync_connection
        assert sync is not None
    fairy = sync.connection
    driver = fairy.driver_connection
    sqlite = getattr(driver, "sqlite", None)
    if sqlite is not None:
        # sqlite3 opens its transaction itself before the first write (as under SQLAlchemy).
        return sqlite, True
    adapted: Any = fairy.dbapi_connection
    if begin and adapted._transaction is None:  # SQLAlchemy's asyncpg adapter begins lazily
        await adapted._start_transaction()
    return driver, False


async def begin(conn: AsyncConnection) -> None:
    """Open a transaction on the driver connection under ``conn`` itself: one ``BEGIN``,
    none of SQLAlchemy's bookkeeping (a connection from ``engine.connect()``, not in a
    transaction). Statements of this module join it; end it with :func:`commit` or
    :func:`rollback`."""
    if conn.in_transaction():
        raise RuntimeError("the connection is in a SQLAlchemy transaction already")
    driver, sqlite = await _raw(conn, begin=False)
    if sqlite:
        driver.execute("BEGIN")
    else:
        await _asyncpg_adapter(conn)._start_transaction()


async def commit(conn: AsyncConnection) -> None:
    """Commit the transaction :func:`begin` opened (with what SQLAlchemy statements wrote
    in it: SQLAlchemy, which began its own record of it then, commits it)."""
    await _end(conn, commit=True)


async def rollback(conn: AsyncConnection) -> None:
    """Roll back the transaction :func:`begin` opened."""
    await _end(conn, commit=False)


async def _end(conn: AsyncConnection, *, commit: bool) -> None:
    if conn.in_transaction():
        await (conn.commit() if commit else conn.rollback())
        return
    driver, sqlite = await _raw(conn, begin=False)
    if sqlite:
        driver.commit() if commit else driver.rollback()
        return
    adapter = _asyncpg_adapter(conn)
    transaction = adapter._transaction
    if transaction is not None:
        await adapter._call_and_discard(transaction.commit if commit else transaction.rollback)


def _asyncpg_adapter(conn: AsyncConnection) -> Any:
    """SQLAlchemy's adapter around the asyncpg connection: a transaction begun through it
    is the one SQLAlchemy's own statements on the connection join and commit."""
    sync = conn.sync_connection
    assert sync is not None
    return sync.connection.dbapi_connection


class KeptReader:
    """Lone reads (a SELECT outside any transaction) on a reader connection kept open for
    them, instead of a pool checkout per read (about 65 µs of SQLAlchemy's Python for a
    statement that takes SQLite 3).

    For SQLite's read-only pool only (``keep``): sqlite3 runs each statement to its last
    row on the calling thread, with no transaction around it (nothing here begins one),
    so every coroutine can share the one connection and each read sees every commit.
    Elsewhere (``keep`` false: PostgreSQL, whose connection runs one query at a time, or
    a pool that also writes) each read checks a connection out as before. Only
    :func:`fetch` of a ``SELECT`` runs here; the connection is never handed out.
    """

    __slots__ = ("_conn", "_engine", "_keep")

    def __init__(self, engine: AsyncEngine, *, keep: bool) -> None:
        self._engine = engine
        self._keep = keep
        self._conn: AsyncConnection | None = None

    async def fetch(self, sql: Sql, *args: Any) -> list[Row]:
        if not sql.reads:
            raise ValueError(f"a kept reader only reads: {sql!r}")
        if not self._keep:
            async with self._engine.connect() as conn:
                return await fetch(conn, sql, *args)
        conn = self._conn or await self._open()
        try:
            return await fetch(conn, sql, *args)
        except sqlite3.Error:
            await self.close()  # a fresh connection for the next read
            raise

    async def _open(self) -> AsyncConnection:
        conn = await self._engine.connect()
        if self._conn is not None:  # another read opened one meanwhile
            await conn.close()
            return self._conn
        self._conn = conn
        return conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


async def fetch(conn: AsyncConnection | KeptReader, sql: Sql, *args: Any) -> list[Row]:
    """The rows ``sql`` returns (a SELECT, or a write with RETURNING); on a
    :class:`KeptReader`, a SELECT only."""
    if isinstance(conn, KeptReader):
        return await conn.fetch(sql, *args)
    driver, sqlite = await _driver(conn, sql)
    if not sqlite:
        return list(await driver.fetch(sql.postgresql, *args))
    rows = driver.execute(*sql.for_sqlite(args)).fetchall()
    if sql.times:
        return [_sqlite_row(row, sql.times) for row in rows]
    return rows  # type: ignore[no-any-return]


async def execute(conn: AsyncConnection, sql: Sql, *args: Any) -> int:
    """Run a write; the number of rows it touched."""
    driver, sqlite = await _driver(conn, sql)
    if not sqlite:
        status: str = await driver.execute(sql.postgresql, *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0
    return int(driver.execute(*sql.for_sqlite(args)).rowcount)


async def execute_many(conn: AsyncConnection, sql: Sql, rows: Iterable[Row]) -> None:
    """Run a write once per row of parameters, in one driver call."""
    driver, sqlite = await _driver(conn, sql)
    if not sqlite:
        await driver.executemany(sql.postgresql, list(rows))
        return
    driver.executemany(*sql.for_sqlite_rows(rows))
