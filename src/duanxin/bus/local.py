"""The embedded mode's hand-off between processes on one machine, over a Unix socket.

When delivery runs in a process of its own next to the HTTP API (one SQLite file, no
Redis), the messages' rows are the work list: a queued row is delivered whether or not
anything else reaches the delivery process. The socket only makes it prompt. The process
that runs delivery listens (:class:`LocalListener`) and publishes what it is sent on its
own in-process bus (:class:`~duanxin.bus.memory.MemoryBus`), where its worker consumes it;
an API process publishes through :class:`LocalBus`, which writes one line of JSON per
publish and never waits, neither for an answer nor for a delivery process that is behind.

Nothing is lost when either side dies: a publish with no delivery process listening is
dropped (logged once per outage), and the delivery process, when it starts, queues every
claim its predecessor held and publishes every queued message (``Sweeper.recover``); one
that was accepted while it ran and never nudged is found by its sweeper after the publish
grace. The listener is started before that recovery, so a message is either committed
before the recovery looks, or published to a listener that is already there.

The delivery side also writes, once a second, what its channels look like (logged in,
connections, window, rate) back to each API connection: the API process's readiness
check, ``/metrics`` and console show the delivery process's channels.

One delivery process per database: the process holds an exclusive lock on a file next to
the database (:class:`DeliveryLock`) for as long as it runs, and the kernel lets go of it
when the process dies, however it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from duanxin.bus.base import BusError, Delivery
from duanxin.bus.memory import MemoryBus

__all__ = [
    "DeliveryLock",
    "DeliveryLockHeld",
    "LocalBus",
    "LocalListener",
    "LocalPaths",
    "local_paths",
]

log = logging.getLogger(__name__)

#: Unix socket paths longer than this do not fit ``sockaddr_un`` (108 bytes on Linux,
#: 104 on the BSDs); longer ones are replaced by a short one in the temporary directory.
MAX_SOCKET_PATH = 100
LINE_LIMIT = 16 * 1024 * 1024  # a line is one publish: 4,000 entries of 50 ids fit easily
MAX_UNREAD = 8 * 1024 * 1024  # buffered for a delivery process that does not read
CHANNELS_EVERY_SECONDS = 1.0  # how often the delivery side reports its channels
SOCKET_MODE = 0o600  # only the user running the platform may publish


@dataclass(frozen=True, slots=True)
class LocalPaths:
    """Where the delivery process of one SQLite database listens, and its lock file."""

    socket: str
    lock: str


def local_paths(database: str, socket_path: str = "") -> LocalPaths:
    """The socket and lock paths for the SQLite file ``database``: next to it
    (``<database>.delivery.sock`` and ``.delivery.lock``), the socket in the temporary
    directory instead when that path is too long for a Unix socket; ``socket_path``
    (the ``delivery_socket`` setting) overrides the socket's."""
    base = os.path.abspath(database)
    lock = f"{base}.delivery.lock"
    if socket_path:
        return LocalPaths(socket_path, lock)
    path = f"{base}.delivery.sock"
    if len(path.encode()) > MAX_SOCKET_PATH:
        digest = hashlib.sha256(base.encode()).hexdigest()[:16]
        path = os.path.join(tempfile.gettempdir(), f"duanxin-{digest}.sock")
    return LocalPaths(path, lock)


class DeliveryLockHeld(Exception):
    """Another process runs delivery on this database."""


class DeliveryLock:
    """An exclusive ``flock`` on the lock file, held while delivery runs in this process."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def take(self) -> None:
        """Take the lock; :class:`DeliveryLockHeld` if a live process holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DeliveryLockHeld(
                f"another process runs delivery on this database (it holds {self.path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None


def _encode(message: Mapping[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


class LocalListener:
    """The delivery side: publishes each line an API process writes on ``bus``, and writes
    back the channels' state from ``channels`` (a snapshot, JSON-ready) every second."""

    def __init__(
        self,
        bus: MemoryBus,
        path: str,
        channels: Callable[[], Mapping[str, Any]] = dict,
    ) -> None:
        self.bus = bus
        self.path = path
        self.channels = channels
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._reporter: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen (a socket file left by a dead predecessor is replaced: the caller holds
        the :class:`DeliveryLock`, so no live process listens there)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._server = await asyncio.start_unix_server(self._serve, self.path, limit=LINE_LIMIT)
        os.chmod(self.path, SOCKET_MODE)
        self._reporter = asyncio.get_running_loop().create_task(self._report_channels())

    async def stop(self) -> None:
        if self._reporter is not None:
            self._reporter.cancel()
            await asyncio.gather(self._reporter, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            self._send_channels(writer)
            while line := await reader.readline():
                await self._publish(line)
        except (ConnectionError, ValueError, asyncio.IncompleteReadError) as error:
            log.warning("local bus: dropped an API connection: %s", error)
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _publish(self, line: bytes) -> None:
        try:
            message = json.loads(line)
            stream, payloads = message["stream"], message["payloads"]
            if not isinstance(stream, str) or not isinstance(payloads, list):
                raise TypeError("stream must be a string and payloads a list")
            await self.bus.publish(stream, payloads)
        except (ValueError, KeyError, TypeError) as error:
            log.error("local bus: dropping a line that is not a publish: %s", error)

    async def _report_channels(self) -> None:
        while True:
            await asyncio.sleep(CHANNELS_EVERY_SECONDS)
            for writer in list(self._writers):
                self._send_channels(writer)

    def _send_channels(self, writer: asyncio.StreamWriter) -> None:
        if not writer.is_closing():
            writer.write(_encode({"channels": dict(self.channels())}))


class LocalBus:
    """The API side: ``publish`` hands entries to the delivery process of the same
    database; nothing is consumed in this process (``consume`` waits and returns none).

    ``on_channels`` receives each channel report of the delivery side (name -> state).
    """

    def __init__(
        self, path: str, on_channels: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        self.path = path
        self.on_channels = on_channels
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._connecting: asyncio.Lock | None = None
        self._missing = False  # the last attempt found no delivery process (logged once)
        self._behind = False  # nudges are being dropped: the delivery side does not read
        self._closed = asyncio.Event()

    async def _connected(self) -> asyncio.StreamWriter | None:
        writer = self._writer
        if writer is not None and not writer.is_closing():
            return writer
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is not None and not self._writer.is_closing():
                return self._writer
            try:
                reader, writer = await asyncio.open_unix_connection(self.path, limit=LINE_LIMIT)
            except OSError as error:
                if not self._missing:
                    log.warning(
                        "no delivery process answers on %s (%s): accepted messages wait "
                        "in the store until it starts",
                        self.path,
                        error.strerror or error,
                    )
                self._missing = True
                self._forget_channels()
                return None
            if self._missing:
                log.warning("the delivery process answers on %s again", self.path)
            self._missing = False
            self._writer = writer
            self._reader_task = asyncio.get_running_loop().create_task(self._read(reader))
            return writer

    async def _read(self, reader: asyncio.StreamReader) -> None:
        """Channel reports, until the delivery process goes away."""
        with contextlib.suppress(ConnectionError, ValueError, asyncio.IncompleteReadError):
            while line := await reader.readline():
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    channels = json.loads(line).get("channels")
                    if isinstance(channels, dict) and self.on_channels is not None:
                        self.on_channels(channels)
        if self._writer is not None:
            self._writer.close()
        self._forget_channels()

    def _forget_channels(self) -> None:
        if self.on_channels is not None:
            self.on_channels({})

    async def publish(self, stream: str, payloads: Sequence[Mapping[str, Any]]) -> None:
        writer = await self._connected()
        if writer is None:
            return  # the store holds them: the delivery process's recovery publishes them
        # Never waits for the delivery side: a send is answered once committed, whatever
        # delivery is doing. One stalled for long enough to leave this much unread has its
        # nudges dropped; its sweeper finds those messages in the store.
        if writer.transport.get_write_buffer_size() > MAX_UNREAD:
            if not self._behind:
                log.warning(
                    "the delivery process on %s is not reading: accepted messages wait in "
                    "the store for its sweeper",
                    self.path,
                )
            self._behind = True
            return
        self._behind = False
        writer.write(_encode({"stream": stream, "payloads": list(payloads)}))

    async def consume(
        self, stream: str, group: str, consumer: str, *, count: int, block: float
    ) -> list[Delivery]:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed.wait(), max(block, 0.0))
        return []

    async def ack(self, stream: str, group: str, ids: Sequence[str]) -> None:
        return None

    async def reclaim(
        self, stream: str, group: str, consumer: str, *, min_idle: float, count: int
    ) -> list[Delivery]:
        return []

    async def ping(self) -> None:
        if await self._connected() is None:
            raise BusError(f"no delivery process answers on {self.path}")

    async def close(self) -> None:
        self._closed.set()
        if self._writer is not None:
            # At once, unsent nudges dropped: the store holds their messages.
            self._writer.transport.abort()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            await asyncio.gather(self._reader_task, return_exceptions=True)
