"""The HTTP server's defences against careless and hostile clients.

Two layers, each where it has to be:

- :class:`GuardedHttpProtocol`, uvicorn's httptools protocol with a watchdog, because the
  application never sees a request whose head has not arrived: the request head (request
  line and headers) must arrive within ``header_timeout`` of its first byte (of the
  connection's opening, for the first request) and within ``max_header_bytes``; a body
  may pause for at most ``body_timeout`` (unless the application is not reading it);
  connections over ``max_connections`` in all, or over ``max_per_address`` from one peer
  address (proxies in ``trusted_proxies`` excepted), are answered 503 and closed at once.
  An answer given before the body was read (too large, a bad signature) is sent at once,
  and the rest of the body, up to :data:`DISCARD_LIMIT`, is read and dropped before the
  connection closes, also when the client asked to close (Python's urllib does, and sends
  its whole body before it reads: closing with its bytes unread would reset the
  connection and lose the answer). One timer per connection, armed lazily: a request costs
  a few attribute writes.
- :class:`RequestGuard`, an ASGI middleware: a ceiling on every body, counted on the
  stream (endpoints enforce their own lower caps the same way, with
  :func:`duanxin.api.bodies.read_body`), and one log line, not a traceback, for a client
  that went away mid-request.
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from duanxin.api.bodies import BodyTooLarge, declared_length
from duanxin.config import Settings
from duanxin.domain.accounts import ip_in_networks
from duanxin.domain.wire import json_bytes

__all__ = [
    "DISCARD_LIMIT",
    "MAX_REQUEST_BODY",
    "ConnectionCounts",
    "GuardedHttpProtocol",
    "HttpLimits",
    "RequestGuard",
    "guarded_protocol",
    "max_connections_within_file_limit",
]

log = logging.getLogger(__name__)

MAX_REQUEST_BODY = 16 * 1024 * 1024
"""No request body is ever read beyond this (the largest endpoint cap: an operator's file
upload); endpoints refuse far less for themselves."""
DISCARD_LIMIT = 8 * 1024 * 1024
"""How much unread body is read and discarded before an early answer; beyond it the
answer is sent with ``Connection: close`` and the rest is not read."""
_CEILING_DIGITS = len(str(MAX_REQUEST_BODY))
FILE_RESERVE = 256
"""File descriptors kept free of HTTP connections: the database, carrier links, logs."""

_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 20\r\nconnection: close\r\n\r\ntoo many connections"
)
_HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n"
    b"connection: close\r\n\r\n"
)


def max_connections_within_file_limit(wanted: int) -> int:
    """``wanted``, lowered so that HTTP connections leave :data:`FILE_RESERVE` descriptors
    of the process's (soft) open-file limit free."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    room = max(1, soft - FILE_RESERVE)
    if wanted > room:
        log.warning("HTTP connections capped at %d by the open-file limit %d", room, soft)
    return min(wanted, room)


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What a client may take of the HTTP server (from ``Settings.http_*``)."""

    header_timeout: float = 10.0
    body_timeout: float = 10.0
    max_header_bytes: int = 64 * 1024
    max_connections: int = 1000
    max_per_address: int = 100
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpLimits:
        return cls(
            header_timeout=settings.http_header_timeout_seconds,
            body_timeout=settings.http_body_timeout_seconds,
            max_header_bytes=settings.http_max_header_bytes,
            max_connections=max_connections_within_file_limit(settings.http_max_connections),
            max_per_address=settings.http_max_connections_per_address,
            trusted_proxies=tuple(settings.trusted_proxies),
        )


@dataclass(slots=True)
class ConnectionCounts:
    """Open connections of one server, in all and per peer address."""

    limits: HttpLimits
    total: int = 0
    per_address: Counter[str] = field(default_factory=Counter)
    _exempt: dict[str, bool] = field(default_factory=dict)

    def admit(self, address: str | None) -> bool:
        """Count a new connection from ``address``; False (not counted) when over a cap."""
        if self.total >= self.limits.max_connections:
            return False
        if address is not None and not self._is_exempt(address):
            if self.per_address[address] >= self.limits.max_per_address:
                return False
            self.per_address[address] += 1
        self.total += 1
        return True

    def release(self, address: str | None) -> None:
        self.total -= 1
        if address is not None and address in self.per_address:
            self.per_address[address] -= 1
            if self.per_address[address] <= 0:
                del self.per_address[address]

    def _is_exempt(self, address: str) -> bool:
        proxies = self.limits.trusted_proxies
        if not proxies:
            return False
        exempt = self._exempt.get(address)
        if exempt is None:
            exempt = self._exempt[address] = ip_in_networks(address, list(proxies))
        return exempt


# What the watchdog of a connection is waiting for.
_HEAD, _BODY, _APP, _IDLE = "head", "body", "app", "idle"


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header/body deadlines, a header size cap and
    connection caps. Use :func:`guarded_protocol` to make one for a server."""

    limits: ClassVar[HttpLimits]
    counts: ClassVar[ConnectionCounts]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._phase = _HEAD
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._head_bytes = 0
        self._counted = False
        self._address: str | None = None
        self._close_after = False  # the client asked to close after this exchange
        self._discarded = 0  # body bytes dropped after an early answer

    # ------------------------------------------------------------ connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._address = self.client[0] if self.client else None
        if not self.counts.admit(self._address):
            log.warning("refusing an HTTP connection from %s: too many connections", self._address)
            transport.write(_REFUSED)
            transport.close()
            return
        self._counted = True
        self._expect(self.limits.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._counted:
            self._counted = False
            self.counts.release(self._address)
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase is not _BODY:  # bytes of a request head (up to its end)
            end = data.find(b"\r\n\r\n")
            self._head_bytes += len(data) if end < 0 else end + len(b"\r\n\r\n")
            if self._head_bytes > self.limits.max_header_bytes:
                self._refuse_head()
                return
        super().data_received(data)

    def _refuse_head(self) -> None:
        if self.transport.is_closing():
            return
        log.info("closing HTTP connection from %s: request head too large", self._address)
        self._deadline = None
        self.transport.write(_HEAD_TOO_LARGE)
        self.transport.close()

    # ------------------------------------------------------- parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = _HEAD
        if self._deadline is None:
            self._expect(self.limits.header_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._phase = _BODY
        self._head_bytes = 0
        self._discarded = 0
        cycle = self.cycle
        if not cycle.keep_alive:
            # The client asked to close (urllib does). uvicorn would close as soon as the
            # answer is written, with the body perhaps still coming: a reset, and the
            # client never reads the answer. We close ourselves, once the body is in.
            cycle.keep_alive = True
            self._close_after = True
        self._expect(self.limits.body_timeout)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._deadline = self.loop.time() + self.limits.body_timeout
        if self.cycle.response_complete:  # answered early: uvicorn drops what follows
            self._discarded += len(body)
            if self._discarded > DISCARD_LIMIT:
                log.info("closing HTTP connection from %s: body far too large", self._address)
                self._deadline = None
                self.transport.close()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._deadline = None
        if not self.cycle.response_complete:
            self._phase = _APP
            return
        self._phase = _IDLE  # an early answer, and now the end of its body
        if self._close_after:
            self.transport.close()
        elif self.timeout_keep_alive_task is None:  # the body's bytes cancelled uvicorn's
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._phase is _APP:
            self._phase = _IDLE  # uvicorn's keep-alive timeout takes over
        if self._close_after and self._phase is not _BODY and not self.transport.is_closing():
            self.transport.close()

    # ------------------------------------------------------------- watchdog

    def _expect(self, within: float) -> None:
        deadline = self.loop.time() + within
        self._deadline = deadline
        timer = self._timer
        if timer is not None and self._timer_at <= deadline:
            return  # it fires first and re-arms for the rest
        if timer is not None:
            timer.cancel()
        self._timer_at = deadline
        self._timer = self.loop.call_at(deadline, self._check)

    def _check(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self.transport.is_closing():
            return
        now = self.loop.time()
        if now < deadline:
            self._timer_at = deadline
            self._timer = self.loop.call_at(deadline, self._check)
            return
        if self._phase is _BODY and self.flow.read_paused:
            self._expect(self.limits.body_timeout)  # the application is not reading: no stall
            return
        what = "request head" if self._phase is _HEAD else "request body"
        log.info("closing HTTP connection from %s: %s stalled", self._address, what)
        self._deadline = None
        self.transport.close()


def guarded_protocol(limits: HttpLimits) -> type[GuardedHttpProtocol]:
    """A protocol class for one server (uvicorn's ``http=``), with its own counters."""
    return type(
        "GuardedHttpProtocol",
        (GuardedHttpProtocol,),
        {"limits": limits, "counts": ConnectionCounts(limits)},
    )


class _Exchange:
    """One request's body as the application reads it, under :data:`MAX_REQUEST_BODY`."""

    __slots__ = ("_receive", "received")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self._receive = receive
        self.received = 0
        for name, value in scope["headers"]:
            if name == b"content-length":
                if len(value) < _CEILING_DIGITS:  # too short a number to pass the ceiling
                    break
                declared = declared_length(value.decode("latin-1"))
                if declared is not None and declared > MAX_REQUEST_BODY:
                    self.received = declared  # refused at the first read, before any is read
                break

    async def receive(self) -> Message:
        if self.received > MAX_REQUEST_BODY:
            raise BodyTooLarge(MAX_REQUEST_BODY)
        message = await self._receive()
        body = message.get("body")
        if body:
            self.received += len(body)
            if self.received > MAX_REQUEST_BODY:
                raise BodyTooLarge(MAX_REQUEST_BODY)
        return message


class RequestGuard:
    """ASGI middleware: the body ceiling on the stream, the early-answer discard, and one
    log line (not a traceback) for a client that went away."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, _Exchange(scope, receive).receive, send)
        except ClientDisconnect:
            client = scope.get("client")
            log.info(
                "client %s went away during %s %s",
                client[0] if client else "?",
                scope["method"],
                scope["path"],
            )
        except BodyTooLarge as error:  # an endpoint without a cap of its own (none
            # answers before it has read its body, so the answer has not started)
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [(b"content-type", b"application/json; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": json_bytes({"message": error.msg})})
