"""The asyncio adapter: moves bytes between a transport and a :class:`SessionCore`.

It owns one timer (re-armed to the core's next deadline), coalesces writes made in the same
event-loop turn into one ``transport.write``, turns responses into awaited results and
hands incoming requests to the application's handler, whose answer it sends back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar, cast

from duanxin.protocols.core.errors import LocalProtocolError, ProtocolError
from duanxin.protocols.core.session import (
    ConnectionClosed,
    Dialect,
    Event,
    LateResponse,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
    SessionConfig,
    SessionCore,
)
from duanxin.protocols.core.state import Role, State

__all__ = [
    "DEFAULT_MAX_PER_ADDRESS",
    "ResponseTimeout",
    "SessionClosed",
    "SessionProtocol",
    "connect",
    "serve",
]

P = TypeVar("P")
log = logging.getLogger(__name__)
DEFAULT_MAX_PER_ADDRESS = 64
"""Connections one peer address may hold open on a server port (a carrier's SP, or an SP on
a customer-access port, needs a handful)."""

#: Answers a request from the peer: returns the response PDU (or None to send nothing).
Handler = Callable[["SessionProtocol[P]", P], "Awaitable[P | None] | P | None"]
#: Told of a response that came after its request was given up, or for a resent copy:
#: ``(tag, request, response)`` with the tag given to :meth:`SessionProtocol.send_request`.
LateHandler = Callable[[object, P, P], None]


LOGGING_OUT = "session logging out"


class SessionClosed(ConnectionError):
    """The connection closed before the request was answered."""


class ResponseTimeout(TimeoutError):
    """The peer never answered a request, after every retry."""


class SessionProtocol(asyncio.Protocol, Generic[P]):
    """One live connection running a protocol session."""

    def __init__(
        self,
        dialect: Dialect[P],
        role: Role,
        handler: Handler[P],
        config: SessionConfig | None = None,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self.core: SessionCore[P] = SessionCore(
            dialect, role, config or SessionConfig(), now=self._loop.time()
        )
        self.dialect = dialect
        self._handler = handler
        self._transport: asyncio.Transport | None = None
        self._pending: dict[Hashable, asyncio.Future[P]] = {}
        # Requests waiting for a window slot, oldest first, with their response futures.
        self._queued: deque[tuple[P, asyncio.Future[P], object]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._flush_scheduled = False
        self._answering: set[asyncio.Future[P | None]] = set()  # slow handlers' answers
        self.closed: asyncio.Future[str] = self._loop.create_future()
        self.peer: tuple[str, int] | None = None
        self.on_late_response: LateHandler[P] | None = None
        # Set by ``serve``: whether a new connection may stay (its per-address cap).
        self.admission: Callable[[SessionProtocol[P]], bool] | None = None

    # ------------------------------------------------------------ transport

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        if self.closed.done():  # aborted before its connection came: its listener closed
            transport.close()
            return
        peer = transport.get_extra_info("peername")
        self.peer = (peer[0], peer[1]) if peer else None
        if self.admission is not None and not self.admission(self):
            log.warning("refusing a connection from %s: too many from that address", self.peer)
            self.abort("too many connections from that address")
            return
        self._arm_timer()

    def data_received(self, data: bytes) -> None:
        self._dispatch(self.core.receive_data(data, self._loop.time()))

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self.core.state = State.CLOSED
        self._finish("connection lost" if exc is None else f"connection lost: {exc}")

    # ---------------------------------------------------------------- API

    @property
    def is_bound(self) -> bool:
        return self.core.state is State.BOUND

    @property
    def is_open(self) -> bool:
        return self._transport is not None and self.core.state is not State.CLOSED

    async def request(self, pdu: P) -> P:
        """Send a request, waiting for a window slot; return the peer's response."""
        return await self.send_request(pdu)

    def send_request(self, pdu: P, tag: object = None) -> asyncio.Future[P]:
        """Send a request as soon as the window allows; the future gets the response.

        Requests waiting for the window are sent first come, first served, each as soon as
        a response frees a slot; cancelling the future of one still waiting withdraws it.
        The future fails with :class:`SessionClosed` if the session closes first, with
        :class:`ResponseTimeout` when every attempt goes unanswered, and with the
        :class:`LocalProtocolError` of a request that cannot be sent. An answer that comes
        after the timeout, or for a resent copy, goes to :attr:`on_late_response` with
        ``tag``.
        """
        future: asyncio.Future[P] = self._loop.create_future()
        if not self.is_open:
            future.set_exception(SessionClosed("session closed"))
        elif self.core.state is State.UNBINDING:
            future.set_exception(SessionClosed(LOGGING_OUT))
        elif self._queued or self.core.window_available <= 0:
            self._queued.append((pdu, future, tag))
        else:
            self._send_now(pdu, future, tag)
            self._after_core_call()
        return future

    def _send_now(self, pdu: P, future: asyncio.Future[P], tag: object = None) -> None:
        try:
            sent = self.core.send_request(pdu, self._loop.time(), tag)
        except Exception as error:  # e.g. a field that does not encode: this request's error
            future.set_exception(error)
            return
        self._pending[self.dialect.sequence(sent)] = future

    def send_response(self, pdu: P) -> None:
        """Send a response outside the handler (e.g. after slow processing)."""
        if not self.is_open:
            return
        self.core.send_response(pdu, self._loop.time())
        self._after_core_call()

    async def unbind(self, timeout: float = 5.0) -> None:
        """Log out gracefully and close the connection."""
        if self.is_open:
            self.core.start_unbind(self._loop.time())
            self._after_core_call()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.closed), timeout)
        self.abort()

    def abort(self, reason: str = "closed locally") -> None:
        """Close at once, without logging out."""
        self.core.state = State.CLOSED
        if self._transport is not None:
            self._transport.close()
        self._finish(reason)

    # ----------------------------------------------------------- plumbing

    def _dispatch(self, events: list[Event[P]]) -> None:
        for event in events:
            if isinstance(event, ResponseReceived):
                self._settle(event.request, event.response)
            elif isinstance(event, RequestReceived):
                self._answer(event.pdu)
            elif isinstance(event, RequestFailed):
                self._settle(event.request, ResponseTimeout(event.reason))
            elif isinstance(event, LateResponse):
                self._late(event)
            elif isinstance(event, ConnectionClosed):
                if event.error is not None:
                    log.warning("closing %s: %s", self.peer, event.reason)
                self._flush()
                self.abort(event.reason)
        self._after_core_call()

    def _settle(self, request: P, outcome: P | Exception) -> None:
        future = self._pending.pop(self.dialect.sequence(request), None)
        if future is None or future.done():
            return
        if isinstance(outcome, Exception):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def _late(self, event: LateResponse[P]) -> None:
        handler = self.on_late_response
        if handler is None:
            return
        try:
            handler(event.tag, event.request, event.response)
        except Exception:
            log.exception("late-response handler failed for %s", self.peer)

    def _answer(self, pdu: P) -> None:
        try:
            result = self._handler(self, pdu)
        except ProtocolError as error:
            log.warning("handler refused a PDU from %s: %s", self.peer, error)
            self.abort(str(error))
            return
        if isinstance(result, Awaitable):
            # The handler's own coroutine runs as the task: cancelled before its first step
            # (the session closed at once), it leaves no coroutine behind un-awaited.
            answer = asyncio.ensure_future(result, loop=self._loop)
            self._answering.add(answer)
            answer.add_done_callback(self._answer_ready)
        elif result is not None and self.is_open:
            # Sent by the caller's _after_core_call, with the rest of this read's answers.
            self.core.send_response(result, self._loop.time())

    def _answer_ready(self, answer: asyncio.Future[P | None]) -> None:
        self._answering.discard(answer)
        if answer.cancelled():
            return
        error = answer.exception()
        if error is not None:
            log.error("handler failed for a PDU from %s", self.peer, exc_info=error)
            self.abort("handler failed")
            return
        response = answer.result()
        if response is not None:
            try:
                self.send_response(response)
            except LocalProtocolError as error:
                log.warning("cannot answer %s: %s", self.peer, error)

    def _after_core_call(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        if self._queued:
            self._send_queued()
        self._arm_timer()
        if self.core.state is State.CLOSED and self._transport is not None:
            self._flush()
            self.abort("session closed")

    def _flush(self) -> None:
        self._flush_scheduled = False
        data = self.core.data_to_send()
        if data and self._transport is not None and not self._transport.is_closing():
            self._transport.write(data)

    def _send_queued(self) -> None:
        core, queued = self.core, self._queued
        if core.state is State.UNBINDING:  # nothing more goes out on this link
            self._fail_queued(LOGGING_OUT)
            return
        if not self.is_open:
            return
        free = core.window_available  # sending a request never closes the session
        while queued and free > 0:
            pdu, future, tag = queued.popleft()
            if not future.done():  # else withdrawn while waiting
                self._send_now(pdu, future, tag)
                free = core.window_available

    def _arm_timer(self) -> None:
        deadline = self.core.next_deadline()
        if deadline is None or self._transport is None:
            return
        if self._timer is not None:
            if self._timer.when() <= deadline:
                return
            self._timer.cancel()
        self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch(self.core.handle_timer(self._loop.time()))

    def _fail_queued(self, reason: str) -> None:
        for _, future, _ in self._queued:
            if not future.done():
                future.set_exception(SessionClosed(reason))
        self._queued.clear()

    def _finish(self, reason: str) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for future in self._pending.values():
            if not future.done():
                future.set_exception(SessionClosed(reason))
        self._pending.clear()
        self._fail_queued(reason)
        for answer in self._answering:  # they can no longer be sent
            answer.cancel()
        if not self.closed.done():
            self.closed.set_result(reason)


async def connect(
    host: str,
    port: int,
    dialect: Dialect[P],
    handler: Handler[P],
    config: SessionConfig | None = None,
    *,
    timeout: float = 10.0,
) -> SessionProtocol[P]:
    """Open a client connection (not yet logged in)."""
    loop = asyncio.get_running_loop()
    _, protocol = await asyncio.wait_for(
        loop.create_connection(
            lambda: SessionProtocol(dialect, Role.CLIENT, handler, config), host, port
        ),
        timeout,
    )
    return protocol


def _release(counts: Counter[str], address: str) -> None:
    counts[address] -= 1
    if counts[address] <= 0:
        del counts[address]


async def serve(
    host: str,
    port: int,
    session_factory: Callable[[], SessionProtocol[P]],
    *,
    max_per_address: int | None = DEFAULT_MAX_PER_ADDRESS,
    reuse_port: bool = False,
) -> asyncio.Server:
    """Listen for connections; each gets its own session from ``session_factory``.

    A connection from an address that already has ``max_per_address`` open ones is closed
    at once (``None``: no cap). Sessions close connections that do not log in within
    their ``SessionConfig.login_timeout``. ``reuse_port``: several processes may listen on
    the same port (SO_REUSEPORT), the kernel spreading connections among them.
    """
    loop = asyncio.get_running_loop()
    open_per_address: Counter[str] = Counter()

    def admit(session: SessionProtocol[P]) -> bool:
        address = session.peer[0] if session.peer else ""
        if max_per_address is not None and open_per_address[address] >= max_per_address:
            return False
        open_per_address[address] += 1
        session.closed.add_done_callback(lambda _: _release(open_per_address, address))
        return True

    def factory() -> SessionProtocol[P]:
        session = session_factory()
        session.admission = admit
        if not server.is_serving():  # accepted just before the listener closed
            session.abort("the listener is closed")
        return session

    server = await loop.create_server(
        factory, host, port, reuse_address=True, reuse_port=reuse_port or None
    )
    return server
