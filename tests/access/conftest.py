"""A platform with its customer CMPP/SMPP servers, and accounts to log in with."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from duanxin.config import Settings
from duanxin.demo import demo_stack
from tests.conftest import TEST_REPORT_DELAY, Stack

StackFactory = Callable[..., AbstractAsyncContextManager[Stack]]


@pytest.fixture
def custom_stack(tmp_path: Path) -> StackFactory:
    """A demo stack with some settings changed (e.g. short access timeouts)."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Stack]:
        database = tmp_path / "duanxin.db"
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{database}",
            host="127.0.0.1",
            port=0,
            access_cmpp_port=-1,  # any free port
            access_smpp_port=-1,
            **overrides,
        )
        async with demo_stack(
            "127.0.0.1", 0, tmp_path, report_delay=TEST_REPORT_DELAY, settings=settings
        ) as (facts, running, simulators):
            yield Stack(facts, running, simulators)

    return start


def address(stack: Stack, protocol: str) -> tuple[str, int]:
    where = stack.facts.access[protocol]
    return str(where["host"]), int(where["port"])
