"""``/metrics`` behind a bearer token, or on a listener of its own, through the real server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from duanxin.config import Settings
from duanxin.runtime import RunningPlatform, running_platform

TOKEN = "metrics-s3cret"


@pytest.fixture
async def with_token(tmp_path: Path) -> AsyncIterator[RunningPlatform]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'duanxin.db'}",
        port=0,
        metrics_token=TOKEN,
    )
    async with running_platform(settings) as running:
        yield running


@pytest.fixture
async def own_listener(tmp_path: Path) -> AsyncIterator[RunningPlatform]:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'duanxin.db'}",
        port=0,
        metrics_listen="127.0.0.1:0",
    )
    async with running_platform(settings) as running:
        yield running


async def _get(url: str, **headers: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(url, headers=headers)


async def test_token_is_required(with_token: RunningPlatform) -> None:
    url = with_token.url + "/metrics"
    assert (await _get(url)).status_code == 401
    assert (await _get(url, Authorization="Bearer wrong")).status_code == 401
    answer = await _get(url, Authorization=f"Bearer {TOKEN}")
    assert answer.status_code == 200
    assert "duanxin_" in answer.text


async def test_own_listener_serves_metrics_and_probes_but_not_the_api(
    own_listener: RunningPlatform,
) -> None:
    assert own_listener.server is not None
    metrics_port = own_listener.server.servers[1].sockets[0].getsockname()[1]
    metrics_url = f"http://127.0.0.1:{metrics_port}"
    answer = await _get(metrics_url + "/metrics")
    assert answer.status_code == 200 and "duanxin_" in answer.text
    # This one process's probes, for a process behind a shared port; the API is not here.
    assert (await _get(metrics_url + "/healthz")).status_code == 200
    assert (await _get(metrics_url + "/readyz")).status_code == 200
    assert (await _get(metrics_url + "/smsoverage")).status_code == 404
    assert (await _get(own_listener.url + "/metrics")).status_code == 404
    assert (await _get(own_listener.url + "/healthz")).status_code == 200


def test_metrics_listen_must_be_host_and_port() -> None:
    with pytest.raises(ValueError):
        Settings(metrics_listen="9100")
