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
when, and only when, SQLAlchemy commits it.

The schema, migrations and every cold path stay on SQLAlchemy.

What the drivers differ in is handled here, once: ``= ANY($n)`` (a list parameter) becomes
``IN (SELECT value FROM json_each(?n))`` on SQLite; times go to SQLite as the text
SQLAlchemy's ``DateTime`` writes (so both layers read and compare each other's rows), and
the result columns a statement names in ``times`` come back as ``datetime``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["Sql", "execute", "execute_many", "fetch", "sqlite_time"]

Row = Sequence[Any]

_ANY = re.compile(r"=\s*ANY\(\$(\d+)\)")
_PARAM = re.compile(r"\$(\d+)")


class Sql:
    """One statement, written once for both backends.

    ``text`` is PostgreSQL's spelling (``$1``, ``$2`` ...; ``col = ANY($n)`` for a list);
    ``times`` are the positions of result columns that hold times.
    """

    __slots__ = ("postgresql", "sqlite", "times")

    def __init__(self, text: str, *, times: Sequence[int] = ()) -> None:
        self.postgresql = " ".join(text.split())
        self.sqlite = _PARAM.sub(
            r"?\1", _ANY.sub(r"IN (SELECT value FROM json_each($\1))", self.postgresql)
        )
        self.times = tuple(times)

    def __repr__(self) -> str:
        return f"Sql({self.postgresql!r})"


def sqlite_time(moment: datetime) -> str:
    """A time as SQLAlchemy's SQLite ``DateTime`` stores it (always with microseconds, no
    zone)."""
    if moment.tzinfo is not None:
        moment = moment.replace(tzinfo=None)
    text = moment.isoformat(" ")
    return text if moment.microsecond else text + ".000000"


def _json_list(values: list[Any] | tuple[Any, ...]) -> str:
    return json.dumps(values)


# sqlite3 adapts these itself, in C, when they are bound: a 500-row batch of 20 columns
# costs no Python call per value. (SQLAlchemy binds times as text already, and sqlite3
# cannot bind a list at all, so nothing else in the process is affected.)
sqlite3.register_adapter(datetime, sqlite_time)
sqlite3.register_adapter(list, _json_list)
sqlite3.register_adapter(tuple, _json_list)


def _sqlite_row(row: Row, times: tuple[int, ...]) -> tuple[Any, ...]:
    values = list(row)
    for index in times:
        text = values[index]
        if text is not None:
            values[index] = datetime.fromisoformat(text)
    return tuple(values)


async def _driver(conn: AsyncConnection) -> tuple[Any, bool]:
    """The driver connection under ``conn`` in its current transaction, and whether it
    is sqlite3 (else asyncpg)."""
    if not conn.in_transaction():
        await conn.begin()  # as SQLAlchemy's autobegin would: its commit() then commits
    sync = conn.sync_connection
    assert sync is not None  # begun above
    fairy = sync.connection
    adapted: Any = fairy.dbapi_connection
    driver = fairy.driver_connection
    sqlite = getattr(driver, "sqlite", None)
    if sqlite is not None:
        # sqlite3 opens its transaction itself before the first write (as under SQLAlchemy).
        return sqlite, True
    if adapted._transaction is None:  # SQLAlchemy's asyncpg adapter begins lazily too
        await adapted._start_transaction()
    return driver, False


async def fetch(conn: AsyncConnection, sql: Sql, *args: Any) -> list[Row]:
    """The rows ``sql`` returns (a SELECT, or a write with RETURNING)."""
    driver, sqlite = await _driver(conn)
    if not sqlite:
        return list(await driver.fetch(sql.postgresql, *args))
    rows = driver.execute(sql.sqlite, args).fetchall()
    if sql.times:
        return [_sqlite_row(row, sql.times) for row in rows]
    return rows  # type: ignore[no-any-return]


async def execute(conn: AsyncConnection, sql: Sql, *args: Any) -> int:
    """Run a write; the number of rows it touched."""
    driver, sqlite = await _driver(conn)
    if not sqlite:
        status: str = await driver.execute(sql.postgresql, *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0
    return int(driver.execute(sql.sqlite, args).rowcount)


async def execute_many(conn: AsyncConnection, sql: Sql, rows: Iterable[Row]) -> None:
    """Run a write once per row of parameters, in one driver call."""
    driver, sqlite = await _driver(conn)
    if not sqlite:
        await driver.executemany(sql.postgresql, list(rows))
        return
    driver.executemany(sql.sqlite, rows)
