"""A lean HTTP/1.1 load generator for ``duanxin bench http`` (``--client raw``).

**A benchmark tool, not a general HTTP client.** Applications use the SDK
(:mod:`duanxin.client`, on httpx: TLS, proxies, any HTTP framing, typed results and
errors). This module does the least that lets one load-generator core keep the platform
busy, and only for ``POST /smssend``:

* one persistent HTTP/1.1 connection per worker (asyncio streams, ``http://`` only), one
  request in flight on it, reopened only when the server closes it or a request fails;
* ``POST /smssend`` pre-encoded as bytes: the request line, ``Host`` and ``Content-Type``
  once per client; the signature headers (:func:`duanxin.api.signature.sign_headers`)
  once per second per worker, since the signed date has one-second resolution; only the
  form body with the numbers and its ``Content-Length`` per request;
* answers read just enough: the status line, ``Content-Length`` and that many body bytes,
  whose JSON gives the request ``status`` and the per-number ``result`` values. A chunked
  answer, a missing ``Content-Length`` or anything else unexpected is a
  :class:`RawHttpError`, which the benchmark counts as an error.

Measured in ``duanxin bench http``: about 70 µs of client CPU per single-number request
(event loop included), against about 2 ms through the SDK, so the send phases measure the
server rather than the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import quote, urlencode, urlsplit

from duanxin.api.signature import sign_headers

__all__ = ["RawClient", "RawConnection", "RawHttpError"]

TIMEOUT = 60.0  # seconds for one request, as the SDK's default in the benchmark
_CONTENT_LENGTH = b"\r\ncontent-length:"
_CLOSE = b"\r\nconnection: close"
_COMMA = "%2C"


class RawHttpError(Exception):
    """A request through :class:`RawConnection` failed: connection, framing or answer."""


class RawClient:
    """The fixed parts of a ``/smssend`` request to one platform; hands out connections.

    ``async with RawClient(...) as client``: ``client.connection()`` gives a worker its
    own :class:`RawConnection`; leaving the block closes every connection handed out.
    """

    def __init__(
        self,
        base_url: str,
        secret_id: str,
        secret_key: str,
        account: str,
        password: str,
        content: str,
        *,
        timeout: float = TIMEOUT,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"the raw benchmark client speaks plain http:// only: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.timeout = timeout
        path = parts.path.rstrip("/") + "/smssend"
        authority = parts.netloc.rsplit("@", 1)[-1]
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: {authority}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
        ).encode("ascii")
        fixed = urlencode({"account": account, "password": password, "content": content})
        self.body_head = f"{fixed}&rt=json&mobile=".encode("ascii")
        self._connections: list[RawConnection] = []

    def connection(self) -> RawConnection:
        """A connection for one worker (opened at its first request)."""
        connection = RawConnection(self)
        self._connections.append(connection)
        return connection

    async def aclose(self) -> None:
        for connection in self._connections:
            await connection.aclose()
        self._connections.clear()

    async def __aenter__(self) -> RawClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class RawConnection:
    """One keep-alive connection and its worker's signature headers."""

    def __init__(self, client: RawClient) -> None:
        self._client = client
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._signed_second = -1
        self._signed = b""

    def _signature(self) -> bytes:
        """The signature header lines, signed again when the second changes."""
        second = int(time.time())
        if second != self._signed_second:
            client = self._client
            headers = sign_headers(
                client.secret_id, client.secret_key, datetime.fromtimestamp(second, UTC)
            )
            self._signed = "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode("ascii")
            self._signed_second = second
        return self._signed

    async def send(self, mobiles: Sequence[str]) -> tuple[int, int]:
        """Send the client's content to ``mobiles``: ``(status, accepted)``.

        ``status`` is the answer's JSON ``status`` (0: accepted), or the HTTP status when
        the answer is not a JSON object with one (e.g. 401); ``accepted`` counts the
        numbers whose ``result`` is 0. Raises :class:`RawHttpError` when the request
        fails; the connection is then closed and reopened by the next request.
        """
        client = self._client
        body = client.body_head + quote(",".join(mobiles), safe="").encode("ascii")
        request = b"%b%bContent-Length: %d\r\n\r\n%b" % (
            client.head,
            self._signature(),
            len(body),
            body,
        )
        try:
            async with asyncio.timeout(client.timeout):
                code, body, close = await self._exchange(request)
        except (OSError, EOFError, ValueError, asyncio.LimitOverrunError, TimeoutError) as error:
            await self.aclose()
            raise RawHttpError(f"{type(error).__name__}: {error}") from error
        if close:
            await self.aclose()
        return _outcome(code, body)

    async def _exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        if self._writer is None or self._reader is None:
            client = self._client
            self._reader, self._writer = await asyncio.open_connection(client.host, client.port)
        reader, writer = self._reader, self._writer
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")  # drain() is not needed for small writes
        if not head.startswith(b"HTTP/1.1 ") and not head.startswith(b"HTTP/1.0 "):
            raise ValueError(f"not an HTTP/1.x answer: {head[:40]!r}")
        code = int(head[9:12])
        lower = head.lower()
        at = lower.find(_CONTENT_LENGTH)
        if at < 0:
            raise ValueError("answer without Content-Length (chunked answers are not read)")
        start = at + len(_CONTENT_LENGTH)
        length = int(lower[start : lower.index(b"\r\n", start)])
        body = await reader.readexactly(length)
        close = _CLOSE in lower or head.startswith(b"HTTP/1.0 ")
        return code, body, close

    async def aclose(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def _outcome(code: int, body: bytes) -> tuple[int, int]:
    """``(status, accepted)`` from an answer; ``status`` is sent as ``"0"`` or ``0``."""
    try:
        data = json.loads(body)
        status = int(data["status"])
    except (ValueError, TypeError, KeyError):
        return code or -1, 0
    items = data.get("list")
    accepted = 0
    if isinstance(items, list):
        accepted = sum(1 for item in items if isinstance(item, dict) and item.get("result") == 0)
    return status, accepted
