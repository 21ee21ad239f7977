"""The sans-IO session shared by every protocol: state, window, timeouts, heartbeat.

Nothing here touches a socket or reads the clock. The caller feeds received bytes and the
current time, collects bytes to write with :meth:`SessionCore.data_to_send`, asks for the
next deadline, and calls :meth:`SessionCore.handle_timer` when it passes. The asyncio
adapter in :mod:`duanxin.protocols.core.aio` does exactly that and nothing more, and tests
drive the same core with a fake clock.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from duanxin.protocols.core.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from duanxin.protocols.core.state import MODES, Direction, Kind, Mode, Role, State, moves

__all__ = [
    "ConnectionClosed",
    "Decoder",
    "Dialect",
    "Event",
    "LateResponse",
    "RequestFailed",
    "RequestReceived",
    "ResponseReceived",
    "SessionConfig",
    "SessionCore",
]

P = TypeVar("P")
P_co = TypeVar("P_co", covariant=True)
_ANSWERS = frozenset(
    (
        Kind.RESPONSE,
        Kind.BIND_OK,
        Kind.BIND_REFUSED,
        Kind.UNBIND_RESP,
        Kind.HEARTBEAT_RESP,
        Kind.NACK,
    )
)
_MISSING = object()
#: How long a given-up request may still be answered, in its full retry times.
LATE_HORIZON = 4
#: At most this many given-up requests are remembered per connection.
MAX_LATE_REQUESTS = 4096


class Decoder(Protocol[P_co]):
    """A protocol codec's incremental decoder."""

    def feed(self, data: bytes) -> None: ...

    def pdus(self) -> Iterator[P_co]:
        """Yield each complete PDU buffered so far, decoding lazily one at a time."""
        ...


class Dialect(Protocol[P]):
    """What the session needs to know about one protocol, for one connection."""

    @property
    def decoder(self) -> Decoder[P]:
        """This connection's decoder (a dialect may switch it, e.g. on CMPP's version)."""
        ...

    def encode(self, pdu: P) -> bytes: ...

    def kind(self, pdu: P) -> Kind: ...

    def sequence(self, pdu: P) -> Hashable: ...

    def with_next_sequence(self, pdu: P) -> P:
        """Return ``pdu`` stamped with this side's next sequence number."""
        ...

    def heartbeat(self) -> P | None:
        """A heartbeat request, or ``None`` for protocols without one (SGIP)."""
        ...

    def answer(self, request: P) -> P | None:
        """The automatic response to a heartbeat or logout request, else ``None``."""
        ...

    def unbind(self) -> P:
        """A logout request."""
        ...

    def observe(self, pdu: P, direction: Direction) -> None:
        """Learn from a PDU sent or received (e.g. the CMPP version agreed at login)."""
        ...

    def reject(self, error: ProtocolError) -> P | None:
        """The protocol's error answer to a malformed frame (SMPP generic_nack), if any."""
        ...


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Window, timers and retries; the defaults are CMPP's recommended figures."""

    window: int = 16
    response_timeout: float = 60.0
    max_attempts: int = 3  # sends of one request before giving up on it
    heartbeat_interval: float | None = 180.0  # idle time before a heartbeat; None: never
    heartbeat_attempts: int = 3  # unanswered heartbeats before the link is declared dead
    # A server closes a connection that has not logged in this long after it opened (a
    # port full of idle, never-logged-in connections is an attack); None: never.
    login_timeout: float | None = 10.0
    # A client logs out of a link idle this long, with nothing in flight (SGIP, which has
    # no heartbeat: the gateway drops idle links itself); None: never.
    idle_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class RequestReceived(Generic[P]):
    """The peer sent a request the application must answer (bind, submit, deliver...)."""

    pdu: P


@dataclass(frozen=True, slots=True)
class ResponseReceived(Generic[P]):
    request: P
    response: P


@dataclass(frozen=True, slots=True)
class RequestFailed(Generic[P]):
    """No response after every attempt; the request is given up."""

    request: P
    reason: str


@dataclass(frozen=True, slots=True)
class LateResponse(Generic[P]):
    """A response to a request already answered once (a resent copy) or given up on.

    The peer acted on it all the same (a gateway that answers a resent submit has taken
    the copy too), so the application still needs it; ``tag`` is what it gave with the
    request.
    """

    request: P
    response: P
    tag: object


@dataclass(frozen=True, slots=True)
class ConnectionClosed:
    reason: str
    error: ProtocolError | None = None


Event = (
    RequestReceived[P] | ResponseReceived[P] | RequestFailed[P] | LateResponse[P] | ConnectionClosed
)


@dataclass(slots=True)
class _Outstanding(Generic[P]):
    pdu: P
    data: bytes
    deadline: float
    attempts: int = 1
    internal: bool = False  # heartbeats and logouts: handled by the core itself
    tag: object = None  # the application's, handed back with a LateResponse


@dataclass(slots=True)
class SessionCore(Generic[P]):
    """One connection's protocol state, independent of any I/O."""

    dialect: Dialect[P]
    role: Role
    config: SessionConfig = field(default_factory=SessionConfig)
    now: float = 0.0
    state: State = State.OPEN
    _outbox: bytearray = field(default_factory=bytearray)
    # Insertion order is deadline order: every entry gets the same timeout, and a resent
    # request is moved to the end.
    _outstanding: dict[Hashable, _Outstanding[P]] = field(default_factory=dict)
    _last_received: float = 0.0
    _last_request: float = 0.0  # the last request sent, for the idle timer
    idle_closed: bool = False  # logged out for idleness (a client binds again on demand)
    _missed_heartbeats: int = 0
    # Requests that may still be answered although they are done with: given up after
    # every attempt, or answered while resent copies were out. Oldest first; ``deadline``
    # is when they are forgotten.
    _late: dict[Hashable, _Outstanding[P]] = field(default_factory=dict)
    _login_by: float | None = None  # a server's login deadline (config.login_timeout)
    mode: Mode = Mode.TRANSCEIVER  # what the login asked for (SMPP bind type, SMGP mode)
    _moves: tuple[dict[Kind, State | None], ...] = ()
    _moves_state: State | None = None

    def __post_init__(self) -> None:
        self._last_received = self._last_request = self.now
        timeout = self.config.login_timeout
        if self.role is Role.SERVER and timeout is not None:
            self._login_by = self.now + timeout

    # ----------------------------------------------------------------- sending

    @property
    def window_available(self) -> int:
        """How many more requests may be sent before a response arrives."""
        return self.config.window - len(self._outstanding)

    @property
    def in_flight(self) -> int:
        return len(self._outstanding)

    def send_request(self, pdu: P, now: float, tag: object = None) -> P:
        """Queue a request; return it as sent (with its sequence number).

        ``tag`` comes back in a :class:`LateResponse` should the peer answer the request
        after it was given up, or answer a resent copy of it.
        """
        if self.window_available <= 0:
            raise LocalProtocolError("window full", close=False)
        self._last_request = now
        return self._send_request(pdu, now, internal=False, tag=tag)

    def send_response(self, pdu: P, now: float) -> None:
        """Queue the answer to a request received earlier."""
        self._transition(Direction.SEND, self.dialect.kind(pdu))
        self._outbox += self.dialect.encode(pdu)
        self.dialect.observe(pdu, Direction.SEND)

    def start_unbind(self, now: float) -> None:
        """Begin a graceful logout; the session closes when the peer answers."""
        if self.state is State.BOUND:
            self._send_request(self.dialect.unbind(), now, internal=True)
        else:
            self.state = State.CLOSED

    def data_to_send(self) -> bytes:
        """Bytes queued for the peer since the last call."""
        data = bytes(self._outbox)
        self._outbox.clear()
        return data

    def _send_request(self, pdu: P, now: float, *, internal: bool, tag: object = None) -> P:
        dialect = self.dialect
        stamped = dialect.with_next_sequence(pdu)
        self._transition(Direction.SEND, dialect.kind(stamped))
        data = dialect.encode(stamped)
        dialect.observe(stamped, Direction.SEND)
        self._outstanding[dialect.sequence(stamped)] = _Outstanding(
            stamped, data, now + self.config.response_timeout, internal=internal, tag=tag
        )
        self._outbox += data
        return stamped

    # --------------------------------------------------------------- receiving

    def receive_data(self, data: bytes, now: float) -> list[Event[P]]:
        """Feed bytes from the peer; return what happened."""
        self.now = now
        self._last_received = now
        self._missed_heartbeats = 0
        events: list[Event[P]] = []
        decoder = self.dialect.decoder
        decoder.feed(data)
        while True:
            try:
                for pdu in decoder.pdus():
                    self._receive_pdu(pdu, events)
                    if self.state is State.CLOSED:
                        break
            except ProtocolError as error:
                closed = self._fail(error)
                if closed is None:
                    continue  # answered; the PDUs after the bad one are still good
                events.append(closed)
            return events

    def _receive_pdu(self, pdu: P, events: list[Event[P]]) -> None:
        dialect = self.dialect
        kind = dialect.kind(pdu)
        self._transition(Direction.RECEIVE, kind)
        dialect.observe(pdu, Direction.RECEIVE)
        if kind in _ANSWERS:
            self._receive_response(pdu, kind, events)
            return
        answer = dialect.answer(pdu)
        if answer is not None:
            self.send_response(answer, self.now)
            if self.state is State.CLOSED:
                events.append(ConnectionClosed("peer logged out"))
            return
        events.append(RequestReceived(pdu))

    def _receive_response(self, pdu: P, kind: Kind, events: list[Event[P]]) -> None:
        key = self.dialect.sequence(pdu)
        outstanding = self._outstanding.pop(key, None)
        if outstanding is None:
            late = self._late.get(key)
            if late is not None and kind is Kind.RESPONSE:
                events.append(LateResponse(late.pdu, pdu, late.tag))
            return
        if not outstanding.internal:
            events.append(ResponseReceived(outstanding.pdu, pdu))
            if outstanding.attempts > 1:  # the copies sent again may be answered too
                self._remember_late(key, outstanding)
        if self.state is State.CLOSED:
            events.append(
                ConnectionClosed("logged out" if kind is Kind.UNBIND_RESP else "login refused")
            )

    def _transition(self, direction: Direction, kind: Kind) -> None:
        state = self.state
        if state is not self._moves_state:  # the table of this state, looked up once
            self._moves, self._moves_state = moves(self.role, state, self.mode), state
        new_state = self._moves[direction].get(kind, _MISSING)
        if new_state is state:
            return  # traffic on a bound link, either way: the table's commonest entry
        if new_state is _MISSING or new_state is None:
            error_type = (
                RemoteProtocolError if direction is Direction.RECEIVE else LocalProtocolError
            )
            doing = "refused" if new_state is None else "not allowed"
            raise error_type(
                f"{direction.name.lower()} {kind.name} {doing} in {state.name} {self.mode.name}",
                close=new_state is not None,
            )
        if state is State.OPEN:
            self.mode = MODES[kind]
        self.state = new_state  # type: ignore[assignment]

    def _fail(self, error: ProtocolError) -> ConnectionClosed | None:
        """Answer a bad PDU where the protocol has an answer; close unless it says not to."""
        if isinstance(error, RemoteProtocolError):
            answer = self.dialect.reject(error)
            if answer is not None:
                self._outbox += self.dialect.encode(answer)
        if not error.close:
            return None
        self.state = State.CLOSED
        return ConnectionClosed(str(error), error)

    # ------------------------------------------------------------------ timers

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` should next be called, if ever."""
        if self._outstanding:  # idle only when nothing is in flight
            deadline: float | None = next(iter(self._outstanding.values())).deadline
        else:
            deadline = self._idle_deadline()
        for other in (self._heartbeat_deadline(), self._login_deadline()):
            if other is not None and (deadline is None or other < deadline):
                deadline = other
        return deadline

    def _login_deadline(self) -> float | None:
        """A server's deadline for the login, until the peer has logged in."""
        state = self.state
        return self._login_by if state is State.OPEN or state is State.BINDING else None

    def _idle_deadline(self) -> float | None:
        timeout = self.config.idle_timeout
        if timeout is None or self.state is not State.BOUND or self.role is not Role.CLIENT:
            return None
        return max(self._last_request, self._last_received) + timeout

    def _heartbeat_deadline(self) -> float | None:
        interval = self.config.heartbeat_interval
        if interval is None or self.state is not State.BOUND:
            return None
        return self._last_received + interval * (self._missed_heartbeats + 1)

    def handle_timer(self, now: float) -> list[Event[P]]:
        """Resend or give up requests whose time is up; send a heartbeat when idle, or log
        out of a link idle for ``config.idle_timeout``; close a server connection that has
        not logged in within ``config.login_timeout``."""
        self.now = now
        events: list[Event[P]] = []
        login = self._login_deadline()
        if login is not None and now >= login:
            return self._close(events, f"no login within {self.config.login_timeout} s")
        self._expire_requests(now, events)
        if self.state is State.CLOSED:
            return events
        idle = self._idle_deadline()
        if idle is not None and now >= idle and not self._outstanding:
            self.idle_closed = True
            self.start_unbind(now)
            return events
        heartbeat_at = self._heartbeat_deadline()
        if heartbeat_at is not None and now >= heartbeat_at:
            self._missed_heartbeats += 1
            if self._missed_heartbeats > self.config.heartbeat_attempts:
                return self._close(events, "peer stopped answering heartbeats")
            heartbeat = self.dialect.heartbeat()
            if heartbeat is not None and self.window_available > 0:
                self._send_request(heartbeat, now, internal=True)
        return events

    def _close(self, events: list[Event[P]], reason: str) -> list[Event[P]]:
        self.state = State.CLOSED
        events.append(ConnectionClosed(reason))
        return events

    def _expire_requests(self, now: float, events: list[Event[P]]) -> None:
        while self._outstanding:
            key, entry = next(iter(self._outstanding.items()))
            if entry.deadline > now:
                return
            del self._outstanding[key]
            if entry.internal and self.dialect.kind(entry.pdu) is Kind.HEARTBEAT:
                continue  # missed heartbeats are counted by the idle timer
            # A login is sent once: its timeout is the client's whole wait for the login.
            if entry.attempts < self.config.max_attempts and self.state is not State.BINDING:
                entry.attempts += 1
                entry.deadline = now + self.config.response_timeout
                self._outstanding[key] = entry
                self._outbox += entry.data
                continue
            if entry.internal:  # an unanswered logout: the link is gone
                self._close(events, "no answer to " + self.dialect.kind(entry.pdu).name)
                return
            self._remember_late(key, entry)
            events.append(RequestFailed(entry.pdu, "no response"))

    def _remember_late(self, key: Hashable, entry: _Outstanding[P]) -> None:
        late, now = self._late, self.now
        while late:  # forget the ones whose answers are no longer expected
            oldest_key, oldest = next(iter(late.items()))
            if oldest.deadline > now and len(late) < MAX_LATE_REQUESTS:
                break
            del late[oldest_key]
        config = self.config
        entry.deadline = now + config.response_timeout * config.max_attempts * LATE_HORIZON
        late.pop(key, None)
        late[key] = entry
