"""The face every protocol shows the delivery layer: submit messages, receive reports and MO.

Each protocol package provides a :class:`CarrierAdapter` (how to log in, build submits,
read submit responses and incoming deliveries); :class:`CarrierSessionClient` runs it over
one reconnecting session. Delivery code only ever sees :class:`CarrierClient`.
"""

from __future__ import annotations

import asyncio
import logging
import operator
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from duanxin.domain.encoding import Alphabet, decode_text
from duanxin.domain.reports import is_final_stat
from duanxin.domain.segments import ConcatInfo, Segment, parse_udh, split_message
from duanxin.protocols.core.aio import ResponseTimeout, SessionClosed, SessionProtocol, connect
from duanxin.protocols.core.clock import china_report_time
from duanxin.protocols.core.errors import ProtocolError
from duanxin.protocols.core.sequence import Backoff
from duanxin.protocols.core.session import Dialect, SessionConfig

__all__ = [
    "LINK_LOST",
    "NO_RESPONSE",
    "CarrierAdapter",
    "CarrierClient",
    "CarrierMO",
    "CarrierReport",
    "CarrierSessionClient",
    "ChannelSettings",
    "Inbound",
    "InboundHandler",
    "LateSubmit",
    "OutboundMessage",
    "SubmitOutcome",
    "SubmitResult",
]

P = TypeVar("P")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """How to reach and log in to one carrier gateway."""

    host: str
    port: int
    account: str  # CMPP SP_Id / SGIP login name / SMGP ClientID / SMPP system_id
    password: str
    access_code: str = ""  # the SP's service number; extensions are appended to it
    service_id: str = ""
    sp_code: str = ""  # CMPP Msg_src / SGIP CorpId / SMGP ... when it differs from account
    version: int | None = None  # CMPP 0x20/0x30; None: the protocol's default
    window: int = 16
    response_timeout: float = 60.0
    heartbeat_interval: float | None = 180.0
    extra: Mapping[str, object] = field(default_factory=dict)  # protocol knobs, as JSON gives them
    alphabet: Alphabet = Alphabet.ASCII  # SMPP: what data_coding 0 means to this carrier

    def int_knob(self, name: str, default: int) -> int:
        """The protocol knob ``name`` (``extra``) as an integer; ``default`` when unset."""
        value = self.extra.get(name, default)
        return int(value) if isinstance(value, int | float | str) else default

    def str_knob(self, name: str, default: str) -> str:
        """The protocol knob ``name`` (``extra``) as text; ``default`` when unset."""
        value = self.extra.get(name, default)
        return default if value is None else str(value)

    def float_knob(self, name: str, default: float | None) -> float | None:
        """The protocol knob ``name`` (``extra``) as a number; None when set to null."""
        value = self.extra.get(name, default)
        return float(value) if isinstance(value, int | float | str) else None

    def session_config(self, *, idle_timeout: float | None = None) -> SessionConfig:
        """The session settings of this channel; ``idle_timeout`` for links logged out
        when idle (SGIP)."""
        return SessionConfig(
            window=self.window,
            response_timeout=self.response_timeout,
            heartbeat_interval=self.heartbeat_interval,
            idle_timeout=idle_timeout,
        )


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One content to one handset; the client splits it into segments."""

    source: str  # access code + extension, as the handset will see it
    destination: str  # 11-digit mainland number (the client adds 86 where its protocol wants)
    text: str
    reference: int = 0  # concatenation reference for long messages
    want_report: bool = True
    # Only these segment numbers (1-based), e.g. the ones a carrier refused; None: all.
    segments: frozenset[int] | None = None
    # The sender's key for the message; a late submit response comes back with it as a
    # LateSubmit. None: late responses are not reported.
    tag: object = None


#: SubmitOutcome.status of a segment whose request got no answer after every attempt.
NO_RESPONSE = -1
#: SubmitOutcome.status of a segment whose link closed before it was answered.
LINK_LOST = -2


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """The gateway's answer to one segment."""

    status: int  # the protocol's result code; 0 is accepted; NO_RESPONSE, LINK_LOST
    carrier_id: str  # canonical id (see each protocol's ``canonical_id``); "" when refused
    retryable: bool = False  # flow control and the like: try again (maybe elsewhere)

    @property
    def throttled(self) -> bool:
        """The carrier answered with a flow-control or busy result."""
        return self.retryable and self.status > 0


_STATUS = operator.attrgetter("status")


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The answers to the segments submitted, in segment order."""

    outcomes: tuple[SubmitOutcome, ...]
    numbers: tuple[int, ...] = ()  # their segment numbers; empty: 1, 2, ... (all of them)

    def numbered(self) -> zip[tuple[int, SubmitOutcome]]:
        """``(segment number, outcome)`` pairs."""
        return zip(self.numbers or range(1, len(self.outcomes) + 1), self.outcomes, strict=True)

    @property
    def accepted(self) -> bool:
        return not any(map(_STATUS, self.outcomes))

    @property
    def carrier_ids(self) -> tuple[str, ...]:
        return tuple(o.carrier_id for o in self.outcomes)


@dataclass(frozen=True, slots=True)
class CarrierReport:
    """A status report: the final outcome of one submitted segment."""

    carrier_id: str  # canonical, comparable to SubmitOutcome.carrier_id
    destination: str  # the handset, as the carrier wrote it
    stat: str  # 7-character status text; DELIVRD is success
    done_time: datetime | None = None

    @classmethod
    def final(
        cls, protocol: str, carrier_id: str, destination: str, stat: str, done: str
    ) -> CarrierReport | None:
        """The report of a CMPP/SMGP status report (``done`` its China Standard Time
        ``YYMMDDhhmm``); None while ``stat`` is not final (ACCEPTD, ENROUTE): the final
        report that follows decides."""
        if not is_final_stat(protocol, stat):
            return None
        return cls(carrier_id, destination, stat, china_report_time(done))


@dataclass(frozen=True, slots=True)
class CarrierMO:
    """A message from a handset (one segment of it, when ``concat`` is set)."""

    source: str  # the handset
    destination: str  # access code + extension it replied to
    text: str
    concat: ConcatInfo | None = None

    @classmethod
    def decoded(
        cls,
        source: str,
        destination: str,
        content: bytes,
        coding: int,
        *,
        udh: bool,
        alphabet: Alphabet = Alphabet.ASCII,
    ) -> CarrierMO:
        """An MO from its user data: the header parsed off when ``udh``, the text decoded."""
        concat = None
        if udh:
            concat, content = parse_udh(content)
        return cls(source, destination, decode_text(content, coding, alphabet), concat)


@dataclass(frozen=True, slots=True)
class LateSubmit:
    """A submit response that came after the submit was given up, or for a resent copy.

    The gateway holds that copy: an accepted ``outcome`` carries an id its reports will use.
    """

    tag: object  # the OutboundMessage's tag
    number: int  # the segment number
    outcome: SubmitOutcome


Inbound = CarrierReport | CarrierMO | LateSubmit


class CarrierClient(Protocol):
    """What delivery needs from a carrier connection."""

    @property
    def is_up(self) -> bool: ...

    async def start(self) -> None: ...

    async def submit(self, message: OutboundMessage) -> SubmitResult: ...

    async def close(self) -> None: ...


class CarrierAdapter(Protocol[P]):
    """One protocol's part of a carrier client."""

    def new_dialect(self) -> Dialect[P]: ...

    def login_request(self, settings: ChannelSettings) -> P: ...

    def login_status(self, response: P) -> int:
        """0 when the login succeeded, else the protocol's status code."""
        ...

    def submit_requests(self, message: OutboundMessage, segments: list[Segment]) -> list[P]: ...

    def submit_outcome(self, response: P) -> SubmitOutcome: ...

    def inbound(self, request: P) -> tuple[P | None, Inbound | None]:
        """Answer a request from the gateway; say what it carried, if anything."""
        ...


InboundHandler = Callable[[Inbound], Awaitable[None] | None]


def answer_request(
    adapter: CarrierAdapter[P],
    on_inbound: InboundHandler,
    pdu: P,
    handled: Callable[[P], None] | None = None,
) -> Awaitable[P | None] | P | None:
    """The session handler's answer to a request from the gateway: the adapter's response,
    given once ``on_inbound`` has taken what the request carried (an unanswered DELIVER is
    sent again by the gateway, a lost one never is); then ``handled(pdu)`` is called."""
    response, inbound = adapter.inbound(pdu)
    taking = None if inbound is None else on_inbound(inbound)
    if isinstance(taking, Awaitable):
        return _then(taking, response, pdu, handled)
    if handled is not None:
        handled(pdu)
    return response


async def _then(
    taking: Awaitable[None], response: P | None, pdu: P, handled: Callable[[P], None] | None
) -> P | None:
    await taking
    if handled is not None:
        handled(pdu)
    return response


class CarrierSessionClient(Generic[P]):
    """A carrier client over one session that logs in again whenever the link drops.

    A link logged out for idleness (``SessionConfig.idle_timeout``, SGIP) is *parked*: it
    counts as up, and the next :meth:`submit` (or :meth:`wait_up`) logs in again.
    """

    def __init__(
        self,
        adapter: CarrierAdapter[P],
        settings: ChannelSettings,
        on_inbound: InboundHandler,
        *,
        backoff: Backoff | None = None,
        config: SessionConfig | None = None,
    ) -> None:
        self.adapter = adapter
        self.settings = settings
        self._on_inbound = on_inbound
        self._backoff = backoff or Backoff()
        self._config = config or settings.session_config()
        self._wanted = asyncio.Event()  # cleared while parked
        self._wanted.set()
        self._session: SessionProtocol[P] | None = None
        self._up = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._stopping = False
        self.last_error: str | None = None
        self.login_failures = 0

    @property
    def is_bound(self) -> bool:
        """Logged in right now."""
        return self._session is not None and self._session.is_bound

    @property
    def is_up(self) -> bool:
        """Logged in, or parked (the next submit logs in again); never once closing."""
        return not self._stopping and (self.is_bound or self.is_parked)

    @property
    def in_flight(self) -> int:
        """Submits sent and not answered yet (the window in use)."""
        return self._session.core.in_flight if self._session is not None else 0

    @property
    def is_parked(self) -> bool:
        """Logged out of an idle link: the next submit logs in again."""
        return not self._wanted.is_set()

    def unpark(self) -> None:
        """Log in again after an idle logout (``submit`` and ``wait_up`` do this)."""
        self._wanted.set()

    async def start(self) -> None:
        """Start connecting in the background; returns at once."""
        if self._runner is None:
            self._runner = asyncio.get_running_loop().create_task(self._run())

    async def wait_up(self, timeout: float) -> bool:
        """Wait until logged in (again, when parked); False if not within ``timeout``."""
        self.unpark()
        try:
            await asyncio.wait_for(self._up.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def submit(self, message: OutboundMessage) -> SubmitResult:
        """Submit the segments of ``message``; raises SessionClosed when the link is down.

        Raises :class:`ResponseTimeout` / :class:`SessionClosed` when no segment was
        answered (every one unanswered, or the link dropped first). When some were, the
        others get a retryable outcome (:data:`NO_RESPONSE`, :data:`LINK_LOST`), so that the
        accepted ones are kept. A parked link logs in first.
        """
        if self._stopping:
            raise SessionClosed("client closed")
        if self.is_parked and not await self.wait_up(self.settings.response_timeout):
            raise SessionClosed(self.last_error or "login failed")
        session = self._session
        if session is None or not session.is_bound:
            raise SessionClosed("not logged in")
        segments = split_message(message.text, message.reference, self.settings.alphabet)
        wanted, tag = message.segments, message.tag
        if wanted is not None:
            segments = [s for s in segments if s.number in wanted]
        requests = self.adapter.submit_requests(message, segments)
        if len(requests) == 1 and wanted is None:  # most messages: no gather, no task
            response = await session.send_request(requests[0], None if tag is None else (tag, 1))
            return SubmitResult((self.adapter.submit_outcome(response),))
        futures = [
            session.send_request(request, None if tag is None else (tag, segment.number))
            for request, segment in zip(requests, segments, strict=True)
        ]
        answers = await asyncio.gather(*futures, return_exceptions=True)
        outcomes = tuple(map(self._outcome, answers))
        if all(o.status < 0 for o in outcomes):  # none answered: as for one segment
            if any(o.status == NO_RESPONSE for o in outcomes):
                raise ResponseTimeout("no response")
            raise SessionClosed("link lost with the submits in its window")
        return SubmitResult(outcomes, () if wanted is None else tuple(s.number for s in segments))

    def _outcome(self, answer: P | BaseException) -> SubmitOutcome:
        """A segment's outcome; a segment unanswered or cut off is retryable."""
        if isinstance(answer, ResponseTimeout):
            return SubmitOutcome(NO_RESPONSE, "", retryable=True)
        if isinstance(answer, SessionClosed):
            return SubmitOutcome(LINK_LOST, "", retryable=True)
        if isinstance(answer, BaseException):
            raise answer
        return self.adapter.submit_outcome(answer)

    def _late_response(self, tag: object, request: P, response: P) -> None:
        if not isinstance(tag, tuple):
            return
        try:
            outcome = self.adapter.submit_outcome(response)
        except ProtocolError as error:
            log.warning("unreadable late submit response: %s", error)
            return
        self._on_inbound(LateSubmit(tag[0], tag[1], outcome))

    async def close(self) -> None:
        """Log out and stop reconnecting."""
        self._stopping = True
        if self._session is not None:
            await self._session.unbind()
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.wait([self._runner])  # a cancellation of this close still ends it

    async def _run(self) -> None:
        loop, backoff = asyncio.get_running_loop(), self._backoff
        while not self._stopping:
            session = await self._login()
            if session is not None:
                if self._stopping:  # closed while logging in (the cancel may have been lost)
                    await session.unbind()
                    return
                await self._serve(session)
                if self._stopping:
                    return
                if session.core.idle_closed:  # parked until a submit wants the link
                    self._wanted.clear()
                    await self._wanted.wait()
                    continue
            backoff.failed(loop.time())  # the sans-IO back-off's deadline, one timer at a time
            while not backoff.handle_timer(loop.time()):
                await asyncio.sleep((backoff.next_deadline() or 0.0) - loop.time())

    async def _serve(self, session: SessionProtocol[P]) -> None:
        self._backoff.reset()
        session.on_late_response = self._late_response
        self._session = session
        self._up.set()
        self.last_error = await session.closed
        self._up.clear()

    async def _login(self) -> SessionProtocol[P] | None:
        """A logged-in session, or None (the reason in ``last_error``) to try again later."""
        settings = self.settings
        try:
            session = await connect(
                settings.host, settings.port, self.adapter.new_dialect(), self._answer, self._config
            )
            try:
                # Timed by the session: a login unanswered in its response_timeout fails.
                response = await session.request(self.adapter.login_request(settings))
                status = self.adapter.login_status(response)
            except BaseException:
                session.abort("login failed")
                raise
        except Exception as error:
            if not isinstance(error, OSError | TimeoutError | SessionClosed | ProtocolError):
                # A bug: logged, and the reconnect loop goes on.
                log.exception("login to %s:%s failed", settings.host, settings.port)
            self.last_error = f"{type(error).__name__}: {error}"
            return None
        if status == 0:
            return session
        session.abort("login refused")
        self.login_failures += 1  # the credentials are wrong: trying again will not help
        self.last_error = f"login refused with status {status}"
        log.warning("%s:%s %s", settings.host, settings.port, self.last_error)
        return None

    def _answer(self, session: SessionProtocol[P], pdu: P) -> Awaitable[P | None] | P | None:
        return answer_request(self.adapter, self._on_inbound, pdu)
