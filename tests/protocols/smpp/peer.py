"""A small SMSC for tests, written with the project's codec, on a real loopback socket."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Awaitable, Callable

from duanxin.protocols.carrier import CarrierSessionClient, Inbound
from duanxin.protocols.smpp import Decoder, DeliverSm, Pdu, SubmitSm, SubmitSmResp, encode
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.dialect import response_to

WAIT = 5.0

Client = CarrierSessionClient[Pdu]


class PeerSmsc:
    """An SMSC reduced to what these tests need: it binds anyone, answers every submit_sm
    with message ids ``A1``, ``A2`` ... and sends the deliver_sm PDUs a test hands it."""

    def __init__(self) -> None:
        self.submits: list[SubmitSm] = []
        self.message_ids: list[str] = []  # what each submit was answered with, in order
        self._submitted = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._bound = asyncio.Event()
        self._answers: dict[int, asyncio.Future[Pdu]] = {}
        self._sequences = itertools.count(1000)
        self._ids = itertools.count(0xA1)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def stop(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def wait_submits(self, count: int) -> list[SubmitSm]:
        """The first ``count`` submits, once they have arrived."""
        async with asyncio.timeout(WAIT):
            while len(self.submits) < count:
                self._submitted.clear()
                await self._submitted.wait()
        return self.submits[:count]

    async def wait_bound(self) -> None:
        await asyncio.wait_for(self._bound.wait(), WAIT)

    async def deliver(self, pdu: DeliverSm) -> Pdu:
        """Send ``pdu`` on the bound connection; the ESME's answer."""
        await self.wait_bound()
        assert self._writer is not None
        sequence = next(self._sequences)
        answer = self._answers[sequence] = asyncio.get_running_loop().create_future()
        self._writer.write(encode(dataclasses.replace(pdu, sequence_number=sequence)))
        return await asyncio.wait_for(answer, WAIT)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        decoder = Decoder()
        while data := await reader.read(65536):
            decoder.feed(data)
            for pdu in decoder.pdus():
                self._receive(pdu, writer)
        writer.close()

    def _receive(self, pdu: Pdu, writer: asyncio.StreamWriter) -> None:
        if pdu.command_id & p.RESPONSE_BIT:
            future = self._answers.pop(pdu.sequence_number, None)
            if future is not None and not future.done():
                future.set_result(pdu)
            return
        answer = response_to(pdu)
        if isinstance(pdu, p.BindTransceiver):
            answer = p.BindTransceiverResp(sequence_number=pdu.sequence_number, system_id="PEER")
            self._bound.set()
        elif isinstance(pdu, SubmitSm):
            message_id = f"{next(self._ids):X}"
            self.submits.append(pdu)
            self.message_ids.append(message_id)
            self._submitted.set()
            answer = SubmitSmResp(sequence_number=pdu.sequence_number, message_id=message_id)
        writer.write(encode(answer))


class Inbox:
    """What the client hands to ``on_inbound``, in order."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[Inbound] = asyncio.Queue()

    def __call__(self, inbound: Inbound) -> None:
        self.queue.put_nowait(inbound)

    async def next(self) -> Inbound:
        return await asyncio.wait_for(self.queue.get(), WAIT)


Connect = Callable[..., Awaitable[tuple[Client, Inbox]]]
