"""The console's cookies: HttpOnly and SameSite always, Secure when served over TLS."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from duanxin.api.app import create_app
from duanxin.config import Settings
from duanxin.service import console_auth
from duanxin.service.platform import Platform
from duanxin.store.engine import migrate


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"
    await asyncio.to_thread(migrate, url)
    platform = Platform.open(Settings(database_url=url))
    await console_auth.add_operator(platform, "alice", "correct horse")
    try:
        yield platform
    finally:
        await platform.close()


async def _sign_in(platform: Platform, scheme: str) -> list[str]:
    transport = httpx.ASGITransport(app=create_app(platform))
    async with httpx.AsyncClient(transport=transport, base_url=f"{scheme}://console.test") as web:
        form = await web.get("/console/login")
        cookies = form.headers.get_list("set-cookie")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        answer = await web.post(
            "/console/login",
            data={"csrf": csrf.group(1), "name": "alice", "password": "correct horse"},
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/console/"
        return cookies + answer.headers.get_list("set-cookie")


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_cookies_are_httponly_samesite_and_secure_over_tls(
    platform: Platform, scheme: str
) -> None:
    cookies = await _sign_in(platform, scheme)
    names = [cookie.split("=", 1)[0] for cookie in cookies]
    assert names == ["dx_signin", "dx_operator"]
    for cookie in cookies:
        flags = cookie.lower()
        assert "httponly" in flags and "samesite=lax" in flags and "path=/console" in flags
        assert ("secure" in flags.split("; ")) is (scheme == "https")
