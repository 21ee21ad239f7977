"""Work queues: in-process (embedded mode) and Redis Streams (cluster), one interface.

``open_bus(None)`` or ``open_bus("memory://")`` gives a :class:`MemoryBus`;
``open_bus("redis://host:6379/0")`` (also ``rediss://`` and ``unix://``) a :class:`RedisBus`.
"""

from __future__ import annotations

from duanxin.bus.base import SCHEMA_VERSION, Bus, BusError, Delivery
from duanxin.bus.keys import DEFAULT_PREFIX, Keys
from duanxin.bus.memory import MemoryBus
from duanxin.bus.redis import DEFAULT_MAXLEN, RedisBus

__all__ = [
    "DEFAULT_MAXLEN",
    "DEFAULT_PREFIX",
    "REDIS_SCHEMES",
    "SCHEMA_VERSION",
    "Bus",
    "BusError",
    "Delivery",
    "Keys",
    "MemoryBus",
    "RedisBus",
    "open_bus",
]

REDIS_SCHEMES = ("redis://", "rediss://", "unix://")


def open_bus(
    url: str | None, *, prefix: str = DEFAULT_PREFIX, maxlen: int | None = DEFAULT_MAXLEN
) -> Bus:
    """The bus for a settings URL: ``None``/``memory://`` in-process, ``redis://`` Redis."""
    if url is None or url == "memory://":
        return MemoryBus()
    if url.startswith(REDIS_SCHEMES):
        return RedisBus(url, prefix=prefix, maxlen=maxlen)
    raise ValueError(f"unsupported bus URL {url!r}: use memory:// or redis://")
