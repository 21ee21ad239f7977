"""``/readyz``: 503 with the reasons while the database, the bus or a carrier is away;
``/healthz`` keeps answering (it is liveness only). Through a real HTTP server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn

from duanxin.api.app import create_app
from duanxin.config import Settings
from duanxin.runtime import free_port
from duanxin.service.platform import Platform
from tests.conftest import Stack, until


async def _ready(url: str) -> httpx.Response:
    async with httpx.AsyncClient() as client:
        return await client.get(f"{url}/readyz")


async def test_ready_once_every_carrier_has_a_channel_up_and_not_when_one_has_none(
    stack: Stack,
) -> None:
    url = stack.facts.url

    async def ready() -> bool:
        return (await _ready(url)).status_code == 200

    await stack.wait_for(ready)
    assert (await _ready(url)).json() == {"status": "ready", "reasons": []}

    await stack.simulators["cmpp"].stop()

    async def cmpp_down() -> bool:
        return (await _ready(url)).status_code == 503

    await stack.wait_for(cmpp_down)
    answer = (await _ready(url)).json()
    assert answer["status"] == "not ready"
    assert answer["reasons"] == ["no channel up for carrier cmcc (demo-cmpp)"]
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{url}/healthz")
    assert health.status_code == 200 and health.json() == {"status": "ok"}


@asynccontextmanager
async def _serving(platform: Platform) -> AsyncIterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(platform), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        await until(lambda: server.started or task.done(), 10)
        assert server.started, "server did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def test_not_ready_while_the_database_and_the_bus_are_unreachable() -> None:
    # Nothing listens on these ports: both connections are refused.
    settings = Settings(
        database_url=f"postgresql+asyncpg://duanxin@127.0.0.1:{free_port()}/none",
        bus_url=f"redis://127.0.0.1:{free_port()}/0",
    )
    platform = Platform.open(settings)
    try:
        async with _serving(platform) as url:
            answer = await _ready(url)
            async with httpx.AsyncClient() as client:
                health = await client.get(f"{url}/healthz")
    finally:
        await platform.close()
    assert answer.status_code == 503
    reasons = answer.json()["reasons"]
    assert len(reasons) == 2, reasons
    assert reasons[0].startswith("database unreachable: ")
    assert reasons[1].startswith("bus unreachable: ")
    assert health.status_code == 200
