"""Store tests: a migrated platform on each test's own database (SQLite, and PostgreSQL
where it answers; see ``database_url`` in the top-level conftest)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from duanxin.config import Settings
from duanxin.service.platform import Platform
from duanxin.store.engine import migrate


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Platform]:
    await asyncio.to_thread(migrate, database_url)
    platform = Platform.open(Settings(database_url=database_url))
    try:
        yield platform
    finally:
        await platform.close()
