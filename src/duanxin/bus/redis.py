"""Work queue on Redis Streams with consumer groups (the cluster mode).

* ``publish``: XADD of the whole batch in one MULTI/EXEC pipeline (order kept, all or
  nothing), trimmed with ``MAXLEN ~ maxlen``. Trimming drops the oldest entries whether or
  not a group has read them, so ``maxlen`` must stay well above the largest backlog a
  stream may hold; ``None`` turns trimming off. The store, not the stream, is the record of
  accepted messages.
* ``consume``: XREADGROUP ``>`` with BLOCK; the group is created on first use
  (XGROUP CREATE ... 0 MKSTREAM, BUSYGROUP ignored) and again if the stream was deleted.
* ``ack``: XACK. ``reclaim``: XAUTOCLAIM by idle time, then the delivery count of each
  claimed entry from XPENDING (one pipeline) for ``Delivery.attempts``.

Redis errors leave as :class:`BusError`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from duanxin.bus.base import BusError, Delivery, decode_payload, encode_payload, log
from duanxin.bus.keys import DEFAULT_PREFIX, STREAM_FIELD, Keys

__all__ = ["DEFAULT_MAXLEN", "RedisBus"]

DEFAULT_MAXLEN = 1_000_000

_Entry = tuple[str, Mapping[str, str] | None]


@asynccontextmanager
async def _mapped(action: str) -> AsyncIterator[None]:
    try:
        yield
    except RedisError as exc:
        raise BusError(f"redis {action} failed: {exc}") from exc


def _entries(response: Any) -> list[_Entry]:
    """The entries of an XREADGROUP reply for one stream (RESP2 list or RESP3 map)."""
    if not response:
        return []
    batches: Iterable[Any] = (
        response.values() if isinstance(response, dict) else (item[1] for item in response)
    )
    out: list[_Entry] = []
    for batch in batches:
        if batch and isinstance(batch[0], list):  # RESP3 wraps the entry list once more
            batch = [entry for inner in batch for entry in inner]
        out.extend(batch)
    return out


class RedisBus:
    """Redis Streams backend of :class:`duanxin.bus.base.Bus`."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        maxlen: int | None = DEFAULT_MAXLEN,
    ) -> None:
        self._redis = Redis.from_url(url, decode_responses=True)
        self._keys = Keys(prefix)
        self._maxlen = maxlen
        self._groups: set[tuple[str, str]] = set()

    async def _ensure_group(self, key: str, group: str, *, again: bool = False) -> None:
        if again:
            self._groups.discard((key, group))
        if (key, group) in self._groups:
            return
        try:
            await self._redis.xgroup_create(key, group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._groups.add((key, group))

    async def publish(self, stream: str, payloads: Sequence[Mapping[str, Any]]) -> None:
        if not payloads:
            return
        encoded = [encode_payload(p) for p in payloads]
        key = self._keys.stream(stream)
        async with _mapped("publish"), self._redis.pipeline(transaction=True) as pipe:
            for raw in encoded:
                pipe.xadd(key, {STREAM_FIELD: raw}, maxlen=self._maxlen, approximate=True)
            await pipe.execute()

    async def consume(
        self, stream: str, group: str, consumer: str, *, count: int, block: float
    ) -> list[Delivery]:
        key = self._keys.stream(stream)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(block, 0.0)
        async with _mapped("consume"):
            await self._ensure_group(key, group)
            while True:
                remaining_ms = int((deadline - loop.time()) * 1000)
                block_ms = remaining_ms if remaining_ms > 0 else None
                try:
                    response = await self._redis.xreadgroup(
                        group, consumer, {key: ">"}, count=count, block=block_ms
                    )
                except ResponseError as exc:
                    if "NOGROUP" not in str(exc):
                        raise
                    await self._ensure_group(key, group, again=True)
                    continue
                entries = _entries(response)
                out = await self._decode(stream, key, group, entries, [1] * len(entries))
                if out or block_ms is None:
                    return out

    async def _decode(
        self,
        stream: str,
        key: str,
        group: str,
        entries: Sequence[_Entry],
        attempts: Sequence[int],
    ) -> list[Delivery]:
        """Deliveries for the readable entries; the others are logged and acknowledged."""
        out: list[Delivery] = []
        dropped: list[str] = []
        for (entry_id, fields), tries in zip(entries, attempts, strict=True):
            raw = fields.get(STREAM_FIELD) if fields else None
            payload = decode_payload(raw, stream=stream, entry_id=entry_id)
            if payload is None:
                dropped.append(entry_id)
            else:
                out.append(Delivery(entry_id, payload, tries))
        if dropped:
            await self._redis.xack(key, group, *dropped)
        return out

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> None:
        if not ids:
            return
        async with _mapped("ack"):
            await self._redis.xack(self._keys.stream(stream), group, *ids)

    async def reclaim(
        self, stream: str, group: str, consumer: str, *, min_idle: float, count: int
    ) -> list[Delivery]:
        key = self._keys.stream(stream)
        async with _mapped("reclaim"):
            await self._ensure_group(key, group)
            entries = await self._autoclaim(key, group, consumer, int(min_idle * 1000), count)
            if not entries:
                return []
            async with self._redis.pipeline(transaction=False) as pipe:
                for entry_id, _ in entries:
                    pipe.xpending_range(key, group, entry_id, entry_id, 1, consumer)
                pending = await pipe.execute()
            attempts = [int(rows[0]["times_delivered"]) if rows else 1 for rows in pending]
            return await self._decode(stream, key, group, entries, attempts)

    async def _autoclaim(
        self, key: str, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> list[_Entry]:
        claimed: list[_Entry] = []
        cursor = "0-0"
        while len(claimed) < count:
            try:
                reply = await self._redis.xautoclaim(
                    key, group, consumer, min_idle_ms, start_id=cursor, count=count - len(claimed)
                )
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    raise
                await self._ensure_group(key, group, again=True)
                return claimed
            cursor, entries = reply[0], reply[1]
            trimmed = list(reply[2]) if len(reply) > 2 else []
            trimmed += [entry_id for entry_id, fields in entries if fields is None]
            if trimmed:
                log.error(
                    "bus: %d pending entries of %s were trimmed before ack: %s",
                    len(trimmed),
                    key,
                    trimmed,
                )
            claimed.extend(e for e in entries if e[1] is not None)
            if cursor == "0-0":
                break
        return claimed

    async def ping(self) -> None:
        async with _mapped("ping"):
            await self._redis.ping()

    async def close(self) -> None:
        await self._redis.aclose()
