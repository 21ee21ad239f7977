"""Group commit: concurrent jobs share transactions; refusals and failures stay contained."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from duanxin.store.commits import GroupCommitter, Refusal
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
