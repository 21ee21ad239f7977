"""Group commit: concurrent jobs share transactions; refusals and failures stay contained."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import event, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from duanxin.store import prepared
from duanxin.store.commits import GroupCommitter, Job, Later, Refusal
from duanxin.store.engine import create_engine, migrate
from duanxin.store.tables import customers

NOW = datetime(2026, 11, 28, 12, 0, 0)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    await asyncio.to_thread(migrate, database_url)
    engine = create_engine(database_url)
    try:
        yield engine
    finally:
        await engine.dispose()


def add(name: str) -> object:
    async def job(conn: AsyncConnection) -> str:
        await conn.execute(insert(customers).values(name=name, created_at=NOW))
        return name

    return job


async def names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return set((await conn.execute(select(customers.c.name))).scalars())


async def test_concurrent_jobs_all_commit_and_each_gets_its_result(engine: AsyncEngine) -> None:
    committer = GroupCommitter(engine, max_batch=8)
    results = await asyncio.gather(*(committer.run(add(f"c{i}")) for i in range(30)))  # type: ignore[arg-type]
    assert results == [f"c{i}" for i in range(30)]
    assert await names(engine) == {f"c{i}" for i in range(30)}


async def test_a_refusal_reaches_its_caller_and_the_others_commit(engine: AsyncEngine) -> None:
    committer = GroupCommitter(engine)

    async def refuse(conn: AsyncConnection) -> str:
        raise Refusal(ValueError("balance insufficient"))

    outcomes = await asyncio.gather(
        committer.run(add("a")),  # type: ignore[arg-type]
        committer.run(refuse),
        committer.run(add("b")),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert outcomes[0] == "a" and outcomes[2] == "b"
    assert isinstance(outcomes[1], ValueError)
    assert await names(engine) == {"a", "b"}


async def test_a_job_failing_mid_write_leaves_nothing_and_others_still_commit(
    engine: AsyncEngine,
) -> None:
    committer = GroupCommitter(engine)

    async def half_then_fail(conn: AsyncConnection) -> str:
        await conn.execute(insert(customers).values(name="half", created_at=NOW))
        await conn.execute(insert(customers).values(name="a", created_at=NOW))  # duplicate
        return "never"

    first = asyncio.ensure_future(committer.run(add("a")))  # type: ignore[arg-type]
    outcomes = await asyncio.gather(
        committer.run(half_then_fail),
        committer.run(add("z")),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert await first == "a"
    assert isinstance(outcomes[0], Exception) and outcomes[1] == "z"
    assert await names(engine) == {"a", "z"}
    async with engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(customers))).scalar() == 2


_ADD = prepared.Sql("INSERT INTO customers (name, created_at) VALUES ($1, $2)")


def add_through_the_driver(*names: str) -> Job[str]:
    async def job(conn: AsyncConnection) -> str:
        for name in names:
            await prepared.execute(conn, _ADD, name, NOW)
        return names[-1]

    return job


async def test_a_batch_is_one_transaction_on_the_driver_not_sqlalchemys(
    engine: AsyncEngine,
) -> None:
    begun: list[object] = []
    event.listen(engine.sync_engine, "begin", begun.append)
    committer = GroupCommitter(engine)
    results = await asyncio.gather(
        *(committer.run(add_through_the_driver(f"d{i}")) for i in range(10))
    )
    assert results == [f"d{i}" for i in range(10)]
    assert begun == []  # no SQLAlchemy transaction was begun for them
    assert await names(engine) == {f"d{i}" for i in range(10)}


async def test_a_statement_failing_through_the_driver_fails_only_its_own_job(
    engine: AsyncEngine,
) -> None:
    committer = GroupCommitter(engine)
    await committer.run(add_through_the_driver("taken"))
    outcomes = await asyncio.gather(
        committer.run(add_through_the_driver("x")),
        committer.run(add_through_the_driver("half", "taken")),  # the second insert fails
        committer.run(add_through_the_driver("y")),
        return_exceptions=True,
    )
    assert outcomes[0] == "x" and outcomes[2] == "y"
    assert isinstance(outcomes[1], Exception)
    assert await names(engine) == {"taken", "x", "y"}  # nothing of the failed job's


_TERMINATE = "SELECT pg_terminate_backend(pg_backend_pid())"


@pytest.mark.parametrize("through", ["driver", "sqlalchemy"])
async def test_a_job_that_loses_its_connection_fails_alone(postgres_url: str, through: str) -> None:
    """PostgreSQL: a job whose connection dies mid-batch (seen by the driver alone, or by
    SQLAlchemy too) fails; the jobs batched with it commit on another connection."""
    await asyncio.to_thread(migrate, postgres_url)
    engine = create_engine(postgres_url)
    try:
        committer = GroupCommitter(engine)

        async def lose_connection(conn: AsyncConnection) -> str:
            await prepared.execute(conn, _ADD, "lost", NOW)
            if through == "driver":
                await prepared.fetch(conn, prepared.Sql(_TERMINATE))
            else:
                await conn.exec_driver_sql(_TERMINATE)
            return "never"

        outcomes = await asyncio.gather(
            committer.run(add_through_the_driver("p")),
            committer.run(lose_connection),
            committer.run(add_through_the_driver("q")),
            return_exceptions=True,
        )
        assert outcomes[0] == "p" and outcomes[2] == "q"
        assert isinstance(outcomes[1], Exception)
        assert await names(engine) == {"p", "q"}
    finally:
        await engine.dispose()


_CRASHING = """
import asyncio, os, sys
from datetime import datetime
from duanxin.store import prepared
from duanxin.store.commits import GroupCommitter
from duanxin.store.engine import create_engine

ADD = prepared.Sql("INSERT INTO customers (name, created_at) VALUES ($1, $2)")
NOW = datetime(2026, 11, 28, 12, 0, 0)

def add(name):
    async def job(conn):
        await prepared.execute(conn, ADD, name, NOW)
        if name == "crash":
            os._exit(9)  # the process dies mid-batch, before the batch commits
        return name
    return job

async def main():
    committer = GroupCommitter(create_engine(sys.argv[1]))
    for name in await asyncio.gather(*(committer.run(add(f"early{i}")) for i in range(5))):
        print(name, flush=True)  # answered: committed
    await asyncio.gather(*(committer.run(add(name)) for name in ["late0", "late1", "crash"]))
    print("never", flush=True)

asyncio.run(main())
"""


async def test_a_crash_mid_batch_loses_nothing_answered_and_keeps_nothing_half_done(
    engine: AsyncEngine, database_url: str
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CRASHING, database_url, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await process.communicate()
    assert process.returncode == 9
    answered = set(output.decode().split())
    assert answered == {f"early{i}" for i in range(5)}
    assert await names(engine) == answered  # the batch the crash cut short left nothing


class AddLater:
    """A write jobs leave to their batch: the names they give, added in one statement."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def __call__(self, conn: AsyncConnection, names: list[str]) -> None:
        self.calls.append(names)
        await prepared.execute_many(conn, _ADD, [(name, NOW) for name in names])


async def test_what_jobs_leave_to_their_batch_is_written_once_for_the_batch(
    engine: AsyncEngine,
) -> None:
    committer = GroupCommitter(engine)
    add_later = AddLater()

    async def refuse(conn: AsyncConnection) -> str:
        raise Refusal(ValueError("balance insufficient"))

    outcomes = await asyncio.gather(
        *(committer.run(add_through_the_driver(f"j{i}"), later=[Later(add_later, f"l{i}")])
          for i in range(5)),
        committer.run(refuse, later=[Later(add_later, "refused")]),
        committer.run(add_through_the_driver("half", "j0"), later=[Later(add_later, "failed")]),
        return_exceptions=True,
    )  # fmt: skip
    assert outcomes[:5] == [f"j{i}" for i in range(5)]
    assert isinstance(outcomes[5], ValueError) and isinstance(outcomes[6], Exception)
    assert add_later.calls == [[f"l{i}" for i in range(5)]]  # once, for those that committed
    assert await names(engine) == {f"j{i}" for i in range(5)} | {f"l{i}" for i in range(5)}


async def test_a_batch_write_failing_for_one_jobs_share_fails_only_that_job(
    engine: AsyncEngine,
) -> None:
    committer = GroupCommitter(engine)
    add_later = AddLater()
    await committer.run(add_through_the_driver("taken"))
    outcomes = await asyncio.gather(
        committer.run(add_through_the_driver("a"), later=[Later(add_later, "la")]),
        committer.run(add_through_the_driver("b"), later=[Later(add_later, "taken")]),
        committer.run(add_through_the_driver("c"), later=[Later(add_later, "lc")]),
        return_exceptions=True,
    )
    assert outcomes[0] == "a" and outcomes[2] == "c"
    assert isinstance(outcomes[1], Exception)
    assert add_later.calls[0] == ["la", "taken", "lc"]  # together first, then one by one
    assert await names(engine) == {"taken", "a", "la", "c", "lc"}
