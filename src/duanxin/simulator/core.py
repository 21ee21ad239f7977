"""What every simulated gateway does, whatever its protocol.

A simulator accepts logins, answers submits with carrier ids, sends a status report after a
delay (a configurable share of them failing), throttles each connection to a TPS limit,
and can send MO replies from a handset. Protocol servers (``simulator/<proto>.py``) only
translate between their PDUs and this :class:`CarrierBehaviour`.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from duanxin.domain.segments import ConcatInfo, Reassembler
from duanxin.domain.throttle import TokenBucket

__all__ = [
    "CarrierBehaviour",
    "DelayedCalls",
    "ReceivedMessage",
    "SimulatorConfig",
    "SimulatorServer",
    "TokenBucket",
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
    seed: int | None = None  # for reproducible failure draws
    login_timeout: float = 10.0  # a connection not logged in by then is closed
    max_connections_per_address: int = 64  # more from one address are closed at once


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One whole message the simulator received (segments joined)."""

    source: str
    destination: str
    text: str
    carrier_ids: tuple[str, ...]
    received_at: datetime


@dataclass
class CarrierBehaviour:
    """Decisions shared by all simulated gateways; no I/O."""

    config: SimulatorConfig
    received: list[ReceivedMessage] = field(default_factory=list)
    submits: int = 0
    _random: random.Random = field(init=False)
    _long: Reassembler = field(default_factory=Reassembler)
    _long_ids: dict[tuple[str, str, int], list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._random = random.Random(self.config.seed)

    def accepts_login(self, account: str, password: str) -> bool:
        """True when the credentials are acceptable (any, unless configured)."""
        expected = self.config.account
        if expected is None:
            return True
        return account == expected and password == (self.config.password or "")

    def new_throttle(self, now: float) -> TokenBucket | None:
        rate = self.config.tps
        return TokenBucket(rate, now) if rate else None

    def draw_stat(self) -> str:
        """The final status of one submitted segment."""
        if self.config.fail_ratio > 0 and self._random.random() < self.config.fail_ratio:
            return self._random.choice(list(self.config.failure_stats))
        return "DELIVRD"

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


class DelayedCalls:
    """Callbacks run after a delay, with one event-loop timer for all of them.

    A simulator schedules a status report per submit; this keeps them in a heap and arms
    a timer only for the earliest, instead of one timer each. A callback that raises is
    logged; the others still run.
    """

    __slots__ = ("_calls", "_order", "_timer", "_timer_at")

    #: Calls due within this much of the timer's firing run with it (the loop's timers are
    #: only millisecond-accurate, and may fire a little before the exact due time).
    _SLACK = 0.001

    def __init__(self) -> None:
        self._calls: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._order = itertools.count()  # ties run in the order they were added
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def __len__(self) -> int:
        return len(self._calls)

    def add(self, delay: float, callback: Callable[..., None], *args: Any) -> None:
        """Run ``callback(*args)`` in ``delay`` seconds."""
        loop = asyncio.get_running_loop()
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

    def _arm(self, loop: asyncio.AbstractEventLoop, due: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = loop.call_at(due, self._run), due

    def _run(self) -> None:
        self._timer = None
        loop = asyncio.get_running_loop()
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

    async def inject_mo(self, source: str, destination: str, text: str) -> None:
        """Send a reply from handset ``source`` to ``destination`` (access code + extno)."""
        ...

    async def stop(self) -> None: ...
