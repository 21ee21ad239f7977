"""A callback receiver for the push tests: a real HTTP server (uvicorn) on an ephemeral
loopback port that records every request and answers as the test tells it to."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from tests.conftest import until

Answer = Callable[["Received"], Awaitable[int]]


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    status: int = 0  # what the receiver answered

    @property
    def items(self) -> list[dict[str, Any]]:
        items = json.loads(self.body)
        assert isinstance(items, list)
        return items

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]


async def _ok(_: Received) -> int:
    return 200


@dataclass
class Receiver:
    url: str = ""
    answer: Answer = _ok
    requests: list[Received] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def delivered(self) -> list[Received]:
        return [r for r in self.requests if 200 <= r.status < 300]

    def delivered_mids(self) -> list[str]:
        return [item["mid"] for r in self.delivered() for item in r.items]

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        status = await self.answer(Received(headers, body))
        self.requests.append(Received(headers, body, status))
        self.arrived.set()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextlib.asynccontextmanager
async def receiver(answer: Answer = _ok) -> AsyncIterator[Receiver]:
    """A running receiver; its ``url`` is ``http://127.0.0.1:<port>/hook``."""
    app = Receiver(answer=answer)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    await until(lambda: server.started or task.done(), 10)
    assert server.started, "receiver did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    app.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield app
    finally:
        server.should_exit = True
        await task
