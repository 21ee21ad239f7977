"""What every simulated gateway does, whatever its protocol.

A simulator accepts logins, answers submits with carrier ids, sends a status report after a
delay (a configurable share of them failing), throttles each connection to a TPS limit,
and can send MO replies from a handset. Protocol servers (``simulator/<proto>.py``) only
translate between their PDUs and this :class:`CarrierBehaviour`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from duanxin.domain.segments import ConcatInfo, Reassembler
from duanxin.domain.throttle import TokenBucket

__all__ = [
    "CarrierBehaviour",
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
