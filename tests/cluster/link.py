"""A TCP link between the workers and a CMPP simulator that loses every logout on the way.

The workers reach the simulator through it; the simulator's bytes come back unchanged. A
worker's CMPP_TERMINATE (the logout of a connection it hands to another worker) never
reaches the simulator: the simulator goes on answering the submits of that connection
while the worker waits for the logout's answer, as a gateway that is slow to answer a
logout does. Each logout seen is counted (:attr:`LosingLink.logouts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import struct

from duanxin.protocols.cmpp.pdu import HEADER_SIZE, CommandId

__all__ = ["LosingLink"]

_HEADER = struct.Struct(">II")  # Total_Length, Command_Id (then Sequence_Id)


class LosingLink:
    """Listens on ``host``; each connection is carried to ``target`` (the simulator)."""

    def __init__(self, host: str, target: tuple[str, int]) -> None:
        self.host = host
        self.target = target
        self.logouts = 0
        self.logout_seen = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._streams: set[asyncio.StreamWriter] = set()
        self._carrying: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._carry, self.host, 0)

    async def stop(self) -> None:
        """Close every connection both ways; return once each is carried no more."""
        if self._server is not None:
            self._server.close()
        for stream in self._streams:
            stream.close()
        await asyncio.gather(*self._carrying, return_exceptions=True)

    async def _carry(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._carrying.add(task)
        streams = [writer]
        self._streams.add(writer)
        try:
            gateway_reader, gateway_writer = await asyncio.open_connection(*self.target)
            streams.append(gateway_writer)
            self._streams.add(gateway_writer)
            await asyncio.gather(
                self._upstream(reader, gateway_writer), _copy(gateway_reader, writer)
            )
        except OSError:
            pass  # one side went away: the other is closed below
        finally:
            for stream in streams:
                stream.close()
                self._streams.discard(stream)
            self._carrying.discard(task)

    async def _upstream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The worker's PDUs, one by one, to the simulator: all but its logouts."""
        with contextlib.suppress(asyncio.IncompleteReadError):
            while True:
                header = await reader.readexactly(HEADER_SIZE)
                length, command = _HEADER.unpack_from(header)
                body = await reader.readexactly(length - HEADER_SIZE)
                if command == CommandId.TERMINATE:
                    self.logouts += 1
                    self.logout_seen.set()
                    continue
                writer.write(header + body)
                await writer.drain()
        writer.close()


async def _copy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(65536):
        writer.write(data)
        await writer.drain()
    writer.close()
