"""The work-queue interface shared by the in-process and the Redis Streams backends.

Semantics (both backends):

* A *stream* holds entries in publish order; a *group* of consumers shares the work of one
  stream: each entry is delivered to one consumer of the group, and stays *pending* for
  that consumer until it is acknowledged.
* A group that does not exist yet is created on first use, positioned at the start of the
  stream, so work published before the first worker started is not lost. (Entries that
  every existing group has acknowledged may be gone: the in-process bus forgets them at
  once, Redis when the stream is trimmed. A group added later starts from what is left.)
* ``reclaim`` hands entries that have been pending for at least ``min_idle`` seconds to the
  calling consumer, whoever held them: that is how a dead worker's in-flight work is taken
  over. Each delivery (first or reclaimed) counts in ``Delivery.attempts``.
* Payloads are JSON objects. The bus adds the schema version field ``"v"`` on publish and
  removes it on delivery; an entry that is not a JSON object of a known version is logged
  and acknowledged, never handed to the caller and never crashed on.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "SCHEMA_VERSION",
    "VERSION_FIELD",
    "Bus",
    "BusError",
    "Delivery",
    "decode_payload",
    "encode_payload",
]

log = logging.getLogger("duanxin.bus")

SCHEMA_VERSION = 1
VERSION_FIELD = "v"


class BusError(Exception):
    """The queue backend failed (connection lost, server error); the call may be retried."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One entry handed to a consumer: its id (for ``ack``), payload, and delivery count."""

    id: str
    payload: dict[str, Any]
    attempts: int


class Bus(Protocol):
    """A work queue with consumer groups; see the module docstring for the semantics."""

    async def publish(self, stream: str, payloads: Sequence[Mapping[str, Any]]) -> None:
        """Append ``payloads`` to ``stream`` in order (one round trip for the batch)."""
        ...

    async def consume(
        self, stream: str, group: str, consumer: str, *, count: int, block: float
    ) -> list[Delivery]:
        """New entries for ``consumer``: waits up to ``block`` seconds for at least one."""
        ...

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> None:
        """Mark entries done for ``group``; unknown or already acknowledged ids are ignored."""
        ...

    async def reclaim(
        self, stream: str, group: str, consumer: str, *, min_idle: float, count: int
    ) -> list[Delivery]:
        """Take over up to ``count`` entries pending for at least ``min_idle`` seconds."""
        ...

    async def ping(self) -> None:
        """Raise :class:`BusError` if the backend does not answer (readiness checks)."""
        ...

    async def close(self) -> None:
        """Release connections; the bus is not used afterwards."""
        ...


def encode_payload(payload: Mapping[str, Any]) -> str:
    """The JSON text stored on a stream: the payload plus the schema version."""
    if VERSION_FIELD in payload:
        raise ValueError(f"payload field {VERSION_FIELD!r} is reserved for the schema version")
    return json.dumps(
        {VERSION_FIELD: SCHEMA_VERSION, **payload}, ensure_ascii=False, separators=(",", ":")
    )


def decode_payload(raw: str | bytes | None, *, stream: str, entry_id: str) -> dict[str, Any] | None:
    """The payload of a stored entry, or ``None`` (logged) when it cannot be handled."""
    try:
        data = json.loads(raw) if raw is not None else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        log.error("bus: dropping entry %s on %s: not a JSON object", entry_id, stream)
        return None
    version = data.pop(VERSION_FIELD, None)
    if version != SCHEMA_VERSION:
        log.error(
            "bus: dropping entry %s on %s: unknown schema version %r", entry_id, stream, version
        )
        return None
    return data
