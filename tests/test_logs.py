"""Logging: JSON lines, one access line per request with its id, never a secret."""

from __future__ import annotations

import io
import json
import logging

import httpx
from starlette.types import Receive, Scope, Send

from duanxin.config import Settings
from duanxin.logs import AccessLog, configure_logging
from tests.conftest import Stack


async def test_access_lines_in_json_carry_the_request_id_and_no_secret(stack: Stack) -> None:
    stream = io.StringIO()
    settings = Settings(log_format="json", log_level="info")
    handler = configure_logging(settings, stream)
    try:
        async with stack.client() as client:
            assert (await client.balance()).status == 0
        async with httpx.AsyncClient(base_url=stack.facts.url) as raw:
            # A password in the query string never reaches the log.
            await raw.get(
                "/smsoverage",
                params={"account": "demo", "password": "query-secret"},
                headers={"X-Request-Id": "req-42"},
            )
    finally:
        logging.getLogger().removeHandler(handler)
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    access = [r for r in records if r["logger"] == "duanxin.access"]
    assert len(access) == 2
    first, second = access
    assert first["method"] == "POST" and first["path"] == "/smsoverage"
    assert first["status"] == 200 and first["account"] == "demo"
    assert first["duration_ms"] >= 0 and len(first["request_id"]) == 16
    assert second["request_id"] == "req-42" and second["status"] == 401
    ours = "\n".join(json.dumps(r) for r in records if r["logger"].startswith("duanxin"))
    for secret in ("query-secret", stack.facts.secret_key, stack.facts.password):
        assert secret not in ours


async def test_the_request_id_reaches_service_logs() -> None:
    stream = io.StringIO()
    handler = configure_logging(Settings(log_format="text", log_level="debug"), stream)
    service_log = logging.getLogger("duanxin.service.example")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        service_log.info("handled inside the request")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    try:
        transport = httpx.ASGITransport(app=AccessLog(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            await client.get("/x", headers={"X-Request-Id": "abc-1"})
            await client.get("/y", headers={"X-Request-Id": "not plain!"})
        service_log.info("outside any request")
    finally:
        logging.getLogger().removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert any("[abc-1]" in line and "handled inside the request" in line for line in lines)
    assert any("[abc-1]" in line and "GET /x 204" in line for line in lines)
    assert not any("not plain!" in line for line in lines)  # replaced by an id of our own
    assert any("[-]" in line and "outside any request" in line for line in lines)
