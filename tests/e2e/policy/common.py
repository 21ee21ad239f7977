"""Helpers of the policy contract tests: an operator client, a settable clock, templates."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx

from duanxin.service import admin, policy
from tests.conftest import Stack


async def operator(stack: Stack, name: str = "alice") -> httpx.AsyncClient:
    """An HTTP client with an operator token for ``/admin``."""
    token = await admin.create_operator_token(stack.running.platform, name)
    return httpx.AsyncClient(
        base_url=stack.facts.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


class Clock:
    """The platform's clock, set by the test (no sleeps): ``clock.at(...)``, ``clock += s``."""

    def __init__(self, stack: Stack, start: datetime) -> None:
        self.now = start
        stack.running.platform.clock = lambda: self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def tomorrow_at(hour: int, minute: int = 0) -> datetime:
    """A local time on a later day, so the clock only moves forward in a test."""
    day = datetime.now().date() + timedelta(days=1)
    return datetime(day.year, day.month, day.day, hour, minute)


async def approved_template(stack: Stack, kind: str, text: str, account: str = "") -> int:
    """Register a template for the account (the demo one by default) and approve it."""
    platform = stack.running.platform
    row: dict[str, Any] = await policy.register_template(
        platform, account or stack.facts.account, kind, text
    )
    await policy.approve_template(platform, row["id"], "tests")
    return int(row["id"])
