"""In-process work queue for the embedded mode: the same semantics as the Redis backend.

Entries are kept as the same versioned JSON text the Redis backend stores, so a payload
that would not survive Redis does not survive here either. Entry ids look like Redis ids
(``"<seq>-0"``). An entry is dropped from memory once every group has acknowledged it.
``time`` (default :func:`time.monotonic`) measures idle time for ``reclaim``; ``block``
waits on the event loop.
"""

from __future__ import annotations

import asyncio
import time as _time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from duanxin.bus.base import Delivery, decode_payload, encode_payload

__all__ = ["MemoryBus"]


@dataclass(slots=True)
class _Pending:
    consumer: str
    delivered_at: float
    attempts: int


@dataclass(slots=True)
class _Group:
    cursor: int = 0  # last delivered sequence number; entries start at 1
    pending: dict[int, _Pending] = field(default_factory=dict)


@dataclass(slots=True)
class _Stream:
    entries: dict[int, str] = field(default_factory=dict)
    low: int = 1  # lowest sequence number still held in ``entries``
    last: int = 0  # last sequence number assigned
    groups: dict[str, _Group] = field(default_factory=dict)
    waiters: set[asyncio.Future[None]] = field(default_factory=set)


def _entry_id(seq: int) -> str:
    return f"{seq}-0"


def _parse_id(entry_id: str) -> int | None:
    head, _, tail = entry_id.partition("-")
    if not head.isdigit() or tail not in ("", "0"):
        return None
    return int(head)


class MemoryBus:
    """Consumer groups, pending entries, ack and idle-time reclaim inside one process."""

    def __init__(self, *, time: Callable[[], float] = _time.monotonic) -> None:
        self._time = time
        self._streams: dict[str, _Stream] = {}
        self._closed = False

    def _stream(self, name: str) -> _Stream:
        stream = self._streams.get(name)
        if stream is None:
            stream = self._streams[name] = _Stream()
        return stream

    def _group(self, stream: _Stream, name: str) -> _Group:
        group = stream.groups.get(name)
        if group is None:
            group = stream.groups[name] = _Group(cursor=stream.low - 1)
        return group

    def _append(self, name: str, raw: str) -> None:
        stream = self._stream(name)
        stream.last += 1
        stream.entries[stream.last] = raw
        for waiter in stream.waiters:
            if not waiter.done():
                waiter.set_result(None)
        stream.waiters.clear()

    async def publish(self, stream: str, payloads: Sequence[Mapping[str, Any]]) -> None:
        encoded = [encode_payload(p) for p in payloads]  # all or nothing
        for raw in encoded:
            self._append(stream, raw)

    async def consume(
        self, stream: str, group: str, consumer: str, *, count: int, block: float
    ) -> list[Delivery]:
        state = self._stream(stream)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(block, 0.0)
        while True:
            out = self._take_new(stream, state, group, consumer, count)
            remaining = deadline - loop.time()
            if out or remaining <= 0 or self._closed:
                return out
            waiter: asyncio.Future[None] = loop.create_future()
            state.waiters.add(waiter)
            try:
                async with asyncio.timeout(remaining):
                    await waiter
            except TimeoutError:
                pass
            finally:
                state.waiters.discard(waiter)

    def _take_new(
        self, name: str, stream: _Stream, group_name: str, consumer: str, count: int
    ) -> list[Delivery]:
        group = self._group(stream, group_name)
        out: list[Delivery] = []
        dropped: list[int] = []
        now = self._time()
        while len(out) < count and group.cursor < stream.last:
            group.cursor += 1
            seq = group.cursor
            payload = decode_payload(stream.entries.get(seq), stream=name, entry_id=_entry_id(seq))
            group.pending[seq] = _Pending(consumer, now, 1)
            if payload is None:
                dropped.append(seq)
            else:
                out.append(Delivery(_entry_id(seq), payload, 1))
        if dropped:
            self._ack(stream, group, dropped)
        return out

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> None:
        state = self._streams.get(stream)
        if state is None or group not in state.groups:
            return
        seqs = [seq for seq in map(_parse_id, ids) if seq is not None]
        self._ack(state, state.groups[group], seqs)

    def _ack(self, stream: _Stream, group: _Group, seqs: Sequence[int]) -> None:
        for seq in seqs:
            group.pending.pop(seq, None)
        self._collect(stream)

    def _collect(self, stream: _Stream) -> None:
        """Forget entries every group has delivered and acknowledged."""
        if not stream.groups:
            return
        keep = min(min(g.pending, default=g.cursor + 1) for g in stream.groups.values())
        while stream.low < keep:
            stream.entries.pop(stream.low, None)
            stream.low += 1

    async def reclaim(
        self, stream: str, group: str, consumer: str, *, min_idle: float, count: int
    ) -> list[Delivery]:
        state = self._stream(stream)
        grp = self._group(state, group)
        now = self._time()
        out: list[Delivery] = []
        dropped: list[int] = []
        for seq, pending in grp.pending.items():
            if len(out) >= count:
                break
            if now - pending.delivered_at < min_idle:
                continue
            pending.consumer, pending.delivered_at = consumer, now
            pending.attempts += 1
            raw = state.entries.get(seq)
            payload = decode_payload(raw, stream=stream, entry_id=_entry_id(seq))
            if payload is None:
                dropped.append(seq)
            else:
                out.append(Delivery(_entry_id(seq), payload, pending.attempts))
        if dropped:
            self._ack(state, grp, dropped)
        return out

    async def ping(self) -> None:
        return None  # in this process: always there

    async def close(self) -> None:
        """Wake blocked consumers (they return what is there, usually nothing)."""
        self._closed = True
        for stream in self._streams.values():
            for waiter in stream.waiters:
                if not waiter.done():
                    waiter.set_result(None)
            stream.waiters.clear()
