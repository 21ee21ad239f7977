"""What every simulated gateway shares: its listening socket and the reports it keeps."""

from __future__ import annotations

import abc
import asyncio
from typing import Any, Generic, TypeVar

from duanxin.protocols.core.aio import SessionProtocol, serve
from duanxin.simulator.core import SimulatorConfig
from duanxin.simulator.outbox import Outbox

__all__ = ["Listening"]

P = TypeVar("P")


class Listening(abc.ABC, Generic[P]):
    """The listening half of a :class:`~duanxin.simulator.core.SimulatorServer`."""

    config: SimulatorConfig
    _server: asyncio.Server | None
    _outbox: Outbox[Any]
    _loop: asyncio.AbstractEventLoop | None = None

    @property
    def port(self) -> int:
        """The port listened on (the real one when ``config.port`` was 0)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("simulator not started")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def kept_reports(self) -> int:
        """Reports and MO kept until a link of their account logs in again."""
        return self._outbox.kept()

    async def start(self) -> None:
        """Listen on ``config.host``/``config.port`` (0: an ephemeral port)."""
        if self._server is None:
            self._server = await serve(
                self.config.host,
                self.config.port,
                self._new_session,
                max_per_address=self.config.max_connections_per_address,
            )

    def _loop_time(self) -> float:
        """The event loop's clock. The loop is looked up once: asyncio.get_running_loop()
        makes a system call, and a simulator reads the clock for every submit."""
        loop = self._loop
        if loop is None:
            loop = self._loop = asyncio.get_running_loop()
        return loop.time()

    def _stop_listening(self) -> None:
        self._outbox.cancel()
        if self._server is not None:
            self._server.close()

    async def _closed(self) -> None:
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
        self._loop = None

    @abc.abstractmethod
    def _new_session(self) -> SessionProtocol[P]:
        """A session for a connection just accepted."""
