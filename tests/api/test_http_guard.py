"""Careless and hostile HTTP clients, against the real server on a loopback port: bodies
too large for their endpoint, slow or stalled requests, too many connections, clients that
go away mid-body."""

from __future__ import annotations

import asyncio
import json
import logging
import select
import socket
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from duanxin.api import http_guard
from duanxin.api.http_guard import ConnectionCounts, HttpLimits
from duanxin.config import Settings
from duanxin.demo import demo_stack
from duanxin.runtime import running_platform
from duanxin.service import admin
from tests.conftest import TEST_REPORT_DELAY, Stack
from tests.e2e.helpers import MOBILE, credentials, stack_headers

HEAD_TIMEOUT = 0.3
BODY_TIMEOUT = 0.3
PER_ADDRESS = 4
FIVE_MIB = 5 * 1024 * 1024


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[Stack]:
    """The demo platform with short deadlines and a small per-address cap."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'duanxin.db'}",
        port=0,
        http_header_timeout_seconds=HEAD_TIMEOUT,
        http_body_timeout_seconds=BODY_TIMEOUT,
        http_max_header_bytes=4096,
        http_max_connections_per_address=PER_ADDRESS,
    )
    async with demo_stack(
        "127.0.0.1", 0, tmp_path, report_delay=TEST_REPORT_DELAY, settings=settings
    ) as (facts, running, simulators):
        yield Stack(facts, running, simulators)


def _address(stack: Stack) -> tuple[str, int]:
    url = urlsplit(stack.facts.url)
    assert url.hostname is not None and url.port is not None
    return url.hostname, url.port


def _urllib_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """What the published samples do: urlopen, the whole body sent before reading."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = bytearray()
    while chunk := sock.recv(65536):
        data += chunk
    return bytes(data)


def _head(path: str, headers: dict[str, str], length: int | None = None) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append("Content-Type: application/x-www-form-urlencoded")
    if length is None:
        lines.append("Transfer-Encoding: chunked")
    else:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# ------------------------------------------------------------------ oversized bodies


async def test_urllib_sending_5_mib_gets_status_1(guarded: Stack) -> None:
    """The SPEC answer (status 1 and a msg), not a connection reset, for a client that
    sends the whole body before it reads."""
    headers = {**stack_headers(guarded), "Content-Type": "application/x-www-form-urlencoded"}
    fields = {**credentials(guarded), "mobile": MOBILE, "content": "x" * FIVE_MIB}
    body = "&".join(f"{k}={v}" for k, v in fields.items()).encode()
    status, answer = await asyncio.to_thread(
        _urllib_post, guarded.facts.url + "/smssend", body, headers
    )
    assert status == 200
    assert answer["status"] == "1"
    assert "too large" in answer["msg"]


async def test_urllib_early_refusal_with_a_big_body_is_answered(guarded: Stack) -> None:
    """Any answer given before the body was read (here: no signature) reaches the client."""
    status, answer = await asyncio.to_thread(
        _urllib_post, guarded.facts.url + "/smsoverage", b"a=" + b"x" * FIVE_MIB, {}
    )
    assert status == 401
    assert "Authorization" in answer["message"]


def _stream_until_answered(address: tuple[str, int], head: bytes, most: int) -> tuple[int, bytes]:
    """Send ``head`` then an endless chunked body until the server answers; return how
    many body bytes were sent by then, and the answer."""
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    sent = 0
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(head)
        while sent < most:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except OSError:
                break
            sent += len(chunk)
        try:
            return sent, _read_all(sock)
        except ConnectionResetError:
            return sent, b""


@pytest.mark.parametrize("path", ["/customer/signatures", "/smssend", "/admin/words/import"])
async def test_body_cap_is_enforced_while_reading(guarded: Stack, path: str) -> None:
    """A body with no Content-Length is refused once it passes its endpoint's cap (and what
    may be discarded after it), long before the 400 MB it would have been."""
    if path.startswith("/admin"):
        token = await admin.create_operator_token(guarded.running.platform)
        headers = {"Authorization": f"Bearer {token}"}
    else:
        headers = stack_headers(guarded)
    most = 400 * 1024 * 1024
    sent, answer = await asyncio.to_thread(
        _stream_until_answered, _address(guarded), _head(path, headers), most
    )
    assert sent < 64 * 1024 * 1024
    assert b"too large" in answer
    if path.startswith("/admin"):
        assert answer.startswith(b"HTTP/1.1 413")


# --------------------------------------------------------------- slow and stalled


def _trickle_head(address: tuple[str, int]) -> bool:
    """Send a request head one byte at a time; True when the server hung up first."""
    head = _head("/smssend", {"X-Padding": "p" * 400}, length=0)
    with socket.create_connection(address, timeout=10) as sock:
        for byte in head[:-4]:  # never the blank line that ends the head
            readable, _, _ = select.select([sock], [], [], 0.01)
            if readable:
                return sock.recv(1) == b""
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return True
    return False


async def test_slowloris_head_is_dropped(guarded: Stack) -> None:
    """A head trickled a byte at a time is dropped after the header timeout, although
    bytes keep coming (the trickle would take several times the timeout)."""
    assert await asyncio.to_thread(_trickle_head, _address(guarded))


def _open_and_wait(address: tuple[str, int], first: bytes) -> bytes:
    with socket.create_connection(address, timeout=10) as sock:
        if first:
            sock.sendall(first)
        return _read_all(sock)


async def test_silent_connection_is_dropped(guarded: Stack) -> None:
    assert await asyncio.to_thread(_open_and_wait, _address(guarded), b"") == b""


async def test_stalled_body_is_dropped_with_a_log_line(
    guarded: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    head = _head("/smssend", stack_headers(guarded), length=1000)
    answer = await asyncio.to_thread(_open_and_wait, _address(guarded), head + b"account=")
    assert answer == b""
    await guarded.wait_for(lambda: _logged(caplog, "went away"))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return any(text in record.getMessage() for record in caplog.records)


async def test_client_gone_mid_body_is_a_log_line(
    guarded: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    head = _head("/customer/signatures", stack_headers(guarded), length=5000)
    with socket.create_connection(_address(guarded), timeout=10) as sock:
        sock.sendall(head + b"signature=")
    await guarded.wait_for(lambda: _logged(caplog, "went away during POST /customer"))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]


async def test_oversized_head_is_refused(guarded: Stack) -> None:
    head = _head("/smssend", {"X-Big": "b" * 8000}, length=0)
    answer = await asyncio.to_thread(_open_and_wait, _address(guarded), head)
    assert answer.startswith(b"HTTP/1.1 431")


# ------------------------------------------------------------------ connection caps


def _healthy(sock: socket.socket) -> bool:
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
    answer = b""
    while b'"ok"' not in answer:
        chunk = sock.recv(65536)
        if not chunk:
            return False
        answer += chunk
    return True


async def test_connections_over_the_per_address_cap_are_refused(guarded: Stack) -> None:
    address = _address(guarded)
    held = [socket.create_connection(address, timeout=10) for _ in range(PER_ADDRESS)]
    try:
        for sock in held:  # each one accepted and counted
            assert await asyncio.to_thread(_healthy, sock)
        refused = await asyncio.to_thread(_open_and_wait, address, b"")
        assert refused.startswith(b"HTTP/1.1 503")
        held.pop().close()

        async def admitted() -> bool:
            with socket.create_connection(address, timeout=10) as sock:
                try:
                    return await asyncio.to_thread(_healthy, sock)
                except OSError:
                    return False

        await guarded.wait_for(admitted)
    finally:
        for sock in held:
            sock.close()


def test_counts_cap_the_total_and_spare_trusted_proxies() -> None:
    counts = ConnectionCounts(
        HttpLimits(max_connections=3, max_per_address=1, trusted_proxies=("10.0.0.0/8",))
    )
    assert counts.admit("192.0.2.1")
    assert not counts.admit("192.0.2.1")  # per address
    assert counts.admit("10.1.1.1") and counts.admit("10.1.1.1")  # a proxy: total only
    assert not counts.admit("192.0.2.2")  # the total
    counts.release("192.0.2.1")
    assert counts.admit("192.0.2.2")
    assert counts.total == 3


def _refused_then_reused(address: tuple[str, int], head: bytes, body: bytes) -> tuple[bytes, bool]:
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        while b"too large" not in answer:  # answered on the declared length alone
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        sock.sendall(body)  # then the body, which is read and dropped
        return answer, _healthy(sock)


async def test_keep_alive_connection_survives_an_early_answer(guarded: Stack) -> None:
    body = b"x" * (512 * 1024)
    head = _head("/smssend", stack_headers(guarded), length=len(body))
    answer, reused = await asyncio.to_thread(_refused_then_reused, _address(guarded), head, body)
    assert b'"status":"1"' in answer
    assert reused


def test_connection_cap_stays_below_the_open_file_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_guard.resource, "getrlimit", lambda _which: (1024, 4096))
    assert http_guard.max_connections_within_file_limit(1000) == 1024 - http_guard.FILE_RESERVE
    assert http_guard.max_connections_within_file_limit(500) == 500


async def _uncapped(request: Request) -> Response:
    return Response(str(len(await request.body())))


async def test_body_ceiling_holds_for_an_endpoint_without_a_cap(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'duanxin.db'}", port=0)
    route = Route("/uncapped", _uncapped, methods=["POST"])
    async with running_platform(settings, [route]) as running:
        url = urlsplit(running.url)
        assert url.hostname is not None and url.port is not None
        head = _head("/uncapped", {}, length=http_guard.MAX_REQUEST_BODY + 1)

        def ask() -> bytes:
            with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
                sock.sendall(head)  # answered on the declared length: no body sent
                answer = b""
                while b"too large" not in answer and (chunk := sock.recv(65536)):
                    answer += chunk
                return answer

        answer = await asyncio.to_thread(ask)
        assert answer.startswith(b"HTTP/1.1 413")
        assert b"too large" in answer
