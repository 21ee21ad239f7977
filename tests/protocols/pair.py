"""Two sans-IO session cores joined by an in-memory wire, on a fake clock.

The shared helper of the session tests: no sockets, no sleeps. ``Pair.flush()`` carries
what each side queued to the other until both are quiet; ``Pair.advance(seconds)`` moves
the clock and fires every deadline that passes, in order, as the asyncio adapter would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

from duanxin.protocols.core.session import Dialect, Event, SessionConfig, SessionCore
from duanxin.protocols.core.state import Role

P = TypeVar("P")


@dataclass
class Pair(Generic[P]):
    """A client core and a server core of one protocol, wired to each other."""

    client: SessionCore[P]
    server: SessionCore[P]
    now: float = 0.0
    client_events: list[Event[P]] = field(default_factory=list)
    server_events: list[Event[P]] = field(default_factory=list)

    @classmethod
    def of(
        cls, client: Dialect[P], server: Dialect[P], config: SessionConfig | None = None
    ) -> Pair[P]:
        config = config or SessionConfig()
        return cls(
            SessionCore(client, Role.CLIENT, config), SessionCore(server, Role.SERVER, config)
        )

    def flush(self) -> None:
        """Deliver queued bytes both ways until neither side has anything more to say."""
        while True:
            to_server, to_client = self.client.data_to_send(), self.server.data_to_send()
            if not to_server and not to_client:
                return
            if to_server:
                self.server_events += self.server.receive_data(to_server, self.now)
            if to_client:
                self.client_events += self.client.receive_data(to_client, self.now)

    def advance(self, seconds: float) -> None:
        """Move the clock on, firing each side's deadlines as they pass."""
        end = self.now + seconds
        while True:
            deadlines = [
                (deadline, core, events)
                for core, events in (
                    (self.client, self.client_events),
                    (self.server, self.server_events),
                )
                if (deadline := core.next_deadline()) is not None and deadline <= end
            ]
            if not deadlines:
                break
            deadline, core, events = min(deadlines, key=lambda entry: entry[0])
            self.now = max(self.now, deadline)
            events += core.handle_timer(self.now)
            self.flush()
        self.now = end

    def request(self, pdu: P) -> P:
        """Send ``pdu`` from the client; return it as sent (with its sequence)."""
        sent = self.client.send_request(pdu, self.now)
        self.flush()
        return sent
