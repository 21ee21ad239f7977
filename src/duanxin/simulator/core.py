"""What every simulated gateway does, whatever its protocol.

A simulator accepts logins, answers submits with carrier ids, sends a status report after a
delay (a configurable share of them failing), throttles each connection to a TPS limit,
and can send MO replies from a handset. A fault profile (``SimulatorConfig.faults``, see
:mod:`duanxin.simulator.faults`) makes it misbehave as real carriers do; reports go out
through an :class:`~duanxin.simulator.outbox.Outbox`, which keeps them while the SP is
away. Protocol servers (``simulator/<proto>.py``) only translate between their PDUs and
this :class:`CarrierBehaviour`.
"""

from __future__ import annotations

import asyncio
import functools
import heapq
import itertools
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from duanxin.domain.encoding import Alphabet
from duanxin.domain.segments import ConcatInfo, Reassembler
from duanxin.domain.status import DELIVERED
from duanxin.domain.throttle import TokenBucket
from duanxin.simulator.faults import Faults, SubmitFate

__all__ = [
    "CarrierBehaviour",
    "DelayedCalls",
    "Faults",
    "ReceivedMessage",
    "SimulatorConfig",
    "SimulatorServer",
    "TokenBucket",
    "time_text",
]

log = logging.getLogger("duanxin.simulator")

DEFAULT_FAILURE_STATS = ("UNDELIV", "EXPIRED", "MA:0001")


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """A simulated gateway's settings (``duanxin simulate ... --help`` mirrors them)."""

    host: str = "127.0.0.1"
    port: int = 0  # 0: pick a free port
    account: str | None = None  # with ``password``: accept only these credentials
    password: str | None = None
    report_delay: float = 1.0
    fail_ratio: float = 0.0
    failure_stats: Sequence[str] = DEFAULT_FAILURE_STATS
    tps: float | None = None  # per-connection submit limit; None: unlimited
    verbose: bool = False
    node_id: int = 1  # gateway code written into carrier message ids
    seed: int | None = None  # for reproducible failure and fault draws
    faults: Faults = field(default_factory=Faults)  # see duanxin.simulator.faults
    login_timeout: float = 10.0  # a connection not logged in by then is closed
    max_connections_per_address: int = 64  # more from one address are closed at once
    alphabet: Alphabet = Alphabet.ASCII  # SMPP: what data_coding 0 is on this gateway


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One whole message the simulator received (segments joined)."""

    source: str
    destination: str
    text: str
    carrier_ids: tuple[str, ...]
    received_at: datetime


#: Identifies one segment of one long message: (source, destination, reference, total, number).
SegmentKey = tuple[str, str, int, int, int]


@dataclass
class CarrierBehaviour:
    """Decisions shared by all simulated gateways; no I/O.

    The counters below say what the fault profile (and the TPS limit) did, for tests to
    assert on.
    """

    config: SimulatorConfig
    received: list[ReceivedMessage] = field(default_factory=list)
    submits: int = 0  # segments accepted
    submit_pdus: int = 0  # submit requests seen, whatever became of them
    throttled: int = 0  # answered with flow control (TPS limit, throttle:R, refuse-segment)
    busy: int = 0  # answered with system busy (busy:R)
    refused: int = 0  # refused permanently (refuse:R)
    segments_refused: int = 0  # refused by refuse-segment:N (also counted in ``throttled``)
    silenced: int = 0  # never answered (silent:R)
    dropped: int = 0  # connections dropped by drop-every:N
    reports_sent: int = 0  # final reports written to a link (copies included)
    duplicate_reports: int = 0  # extra copies written (duplicate-reports)
    early_reports: int = 0  # reports written before their submit response (early-reports)
    intermediate_reports: int = 0  # ENROUTE / State 1 receipts written (enroute)
    acks_sent: int = 0  # SMPP SME acks and intermediate notifications written (ack-deliver)
    kept: int = 0  # reports and MO kept because no link could carry them
    replayed: int = 0  # kept ones written once a link was back
    _random: random.Random = field(init=False)
    _long: Reassembler = field(default_factory=Reassembler)
    _long_ids: dict[tuple[str, str, int], list[str]] = field(default_factory=dict)
    _refused_segments: set[SegmentKey] = field(default_factory=set)
    _draws: bool = field(init=False)  # any share to draw for (the usual case: none)
    _drop_every: int | None = field(init=False)

    @property
    def faults(self) -> Faults:
        return self.config.faults

    def __post_init__(self) -> None:
        self._random = random.Random(self.config.seed)
        faults = self.config.faults
        self._draws = bool(faults.throttle or faults.busy or faults.refuse or faults.silent)
        self._drop_every = faults.drop_every

    def accepts_login(self, account: str, password: str) -> bool:
        """True when the credentials are acceptable (any, unless configured)."""
        expected = self.config.account
        if expected is None:
            return True
        return account == expected and password == (self.config.password or "")

    def new_throttle(self, now: float) -> TokenBucket | None:
        rate = self.config.tps
        return TokenBucket(rate, now) if rate else None

    def over_tps(self, throttle: TokenBucket | None, now: float) -> bool:
        """True (and counted) when ``throttle`` has no token for one more submit."""
        if throttle is None or throttle.take(now):
            return False
        self.throttled += 1
        return True

    def drop_due(self) -> bool:
        """Count one submit request; True when drop-every:N says to drop its link now."""
        self.submit_pdus += 1
        every = self._drop_every
        if every is not None and self.submit_pdus % every == 0:
            self.dropped += 1
            return True
        return False

    def judge(self, source: str, destination: str, concat: ConcatInfo | None) -> SubmitFate:
        """What the fault profile does with one submitted segment (counted)."""
        fate = SubmitFate.ACCEPT
        if self._draws:
            fate = self.config.faults.fate(self._random.random())
        elif concat is None:  # nothing for refuse-segment either
            return fate
        if fate is SubmitFate.ACCEPT and self._refuse_segment(source, destination, concat):
            self.segments_refused += 1
            fate = SubmitFate.THROTTLE
        if fate is SubmitFate.THROTTLE:
            self.throttled += 1
        elif fate is SubmitFate.BUSY:
            self.busy += 1
        elif fate is SubmitFate.REFUSE:
            self.refused += 1
        elif fate is SubmitFate.SILENT:
            self.silenced += 1
        return fate

    def _refuse_segment(self, source: str, destination: str, concat: ConcatInfo | None) -> bool:
        number = self.config.faults.refuse_segment
        if number is None or concat is None or concat.total <= 1 or concat.number != number:
            return False
        key = (source, destination, concat.reference, concat.total, concat.number)
        if key in self._refused_segments:
            return False
        self._refused_segments.add(key)
        return True

    def draw_stat(self) -> str:
        """The final status of one submitted segment."""
        if self.config.fail_ratio > 0 and self._random.random() < self.config.fail_ratio:
            return self._random.choice(list(self.config.failure_stats))
        return DELIVERED

    def record(
        self,
        source: str,
        destination: str,
        text: str,
        concat: ConcatInfo | None,
        carrier_id: str,
        now: float,
    ) -> ReceivedMessage | None:
        """Note one submitted segment; return the whole message once it is complete."""
        self.submits += 1
        if concat is None or concat.total <= 1:
            return self._keep(
                ReceivedMessage(source, destination, text, (carrier_id,), datetime.now())
            )
        key = (source, destination, concat.reference)
        self._long_ids.setdefault(key, []).append(carrier_id)
        whole = self._long.add((source, destination), concat, text, now)
        if whole is None:
            return None
        ids = tuple(self._long_ids.pop(key))
        return self._keep(ReceivedMessage(source, destination, whole, ids, datetime.now()))

    def _keep(self, message: ReceivedMessage) -> ReceivedMessage:
        self.received.append(message)
        if self.config.verbose:
            log.info(
                "MT %s -> %s %r (ids %s)",
                message.source,
                message.destination,
                message.text,
                ",".join(message.carrier_ids),
            )
        return message

    def note_mo(self, source: str, destination: str, text: str) -> None:
        if self.config.verbose:
            log.info("MO %s -> %s %r", source, destination, text)


def time_text(formatter: Callable[[datetime], str], when: datetime) -> str:
    """``formatter(when)`` for a report's time fields (to the second, in ``when``'s time
    zone), computed once per second: a simulator writes thousands of reports a second, and
    strftime would be a tenth of its time."""
    return _time_text(
        formatter, when.year, when.month, when.day, when.hour, when.minute, when.second
    )


@functools.lru_cache(maxsize=64)
def _time_text(
    formatter: Callable[[datetime], str],
    year: int,
    month: int,
    day: int,
    hour: int,
    minute: int,
    second: int,
) -> str:
    return formatter(datetime(year, month, day, hour, minute, second))


class DelayedCalls:
    """Callbacks run after a delay, with one event-loop timer for all of them.

    A simulator schedules a status report per submit; this keeps them in a heap and arms
    a timer only for the earliest, instead of one timer each. A callback that raises is
    logged; the others still run.
    """

    __slots__ = ("_calls", "_loop", "_order", "_timer", "_timer_at")

    #: Calls due within this much of the timer's firing run with it (the loop's timers are
    #: only millisecond-accurate, and may fire a little before the exact due time).
    _SLACK = 0.001

    def __init__(self) -> None:
        self._calls: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._order = itertools.count()  # ties run in the order they were added
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        # Looked up at the first call (asyncio.get_running_loop() makes a system call).
        self._loop: asyncio.AbstractEventLoop | None = None

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, delay: float, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback(*args)`` in ``delay`` seconds."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        due = loop.time() + delay
        heapq.heappush(self._calls, (due, next(self._order), callback, args))
        if self._timer is None or due < self._timer_at:
            self._arm(loop, due)

    def cancel(self) -> None:
        """Forget every pending call."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._calls.clear()
        self._loop = None

    def _arm(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = loop.call_at(due, self._run), due

    def _run(self) -> None:
        self._timer = None
        loop = self._loop or asyncio.get_running_loop()
        calls = self._calls
        horizon = loop.time() + self._SLACK
        while calls and calls[0][0] <= horizon:
            _, _, callback, args = heapq.heappop(calls)
            try:
                callback(*args)
            except Exception:
                log.exception("delayed call %r failed", callback)
        if calls and self._timer is None:
            self._arm(loop, calls[0][0])


class SimulatorServer(Protocol):
    """A running simulated gateway."""

    behaviour: CarrierBehaviour

    @property
    def port(self) -> int: ...

    async def start(self) -> None: ...

    @property
    def kept_reports(self) -> int:
        """Reports and MO kept until a link of their SP logs in again."""
        ...

    async def inject_mo(
        self, source: str, destination: str, text: str, *, keep: bool = False
    ) -> None:
        """Send a reply from handset ``source`` to ``destination`` (access code + extno).

        Raises RuntimeError when no link can take it, unless ``keep`` (then it is kept).
        """
        ...

    def drop_links(self) -> None:
        """Cut every link at once, with whatever is in flight."""
        ...

    async def stop(self) -> None: ...
