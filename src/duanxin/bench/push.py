"""``duanxin bench push``: reports pushed to a callback receiver per second.

A receiver in this process (a lean asyncio HTTP/1.1 server: keep-alive, ``204`` to every
POST, counting the items of each batch) and the demo platform (in a child process by
default) with its simulated carriers. Two measurements:

* end to end: ``messages`` numbers sent in 500-number requests to an account whose reports
  go to the receiver; the clock runs from the first send to the receiver's answer to the
  batch holding the last report (HTTP accept to the receiver's 2xx);
* push only: the same number of reports already waiting in the inbox (sent while the
  callback was removed, and all reported), then the callback set: the clock runs from
  setting it to the last batch answered.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from duanxin.bench import machine_summary, run
from duanxin.bench.http import CONTENT, _server_cpu, numbers
from duanxin.bench.server import Target, platform_for
from duanxin.client import AsyncClient, verify_webhook

__all__ = ["PushFigures", "Receiver", "push_backlog", "push_end_to_end", "run_push"]

BATCH = 500
E2E_FIRST, BACKLOG_FIRST = 60_000_000, 70_000_000  # numbers of each phase's own
NO_CONTENT = b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
MAX_HEAD = 64 * 1024


@dataclass(frozen=True, slots=True)
class PushFigures:
    name: str
    reports: int  # distinct reports the receiver got
    requests: int  # POSTs answered
    seconds: float
    cpu_seconds: float  # this process (receiver, load generator; the platform too in process)
    server_cpu_seconds: float | None  # the platform's child process, when there is one

    @property
    def reports_per_s(self) -> float:
        return self.reports / self.seconds if self.seconds else 0.0

    @property
    def reports_per_platform_cpu_s(self) -> float:
        """What the machine's load does not change much: reports per CPU second spent by
        the platform (its process; in process, this one's, receiver included)."""
        used = self.server_cpu_seconds if self.server_cpu_seconds is not None else self.cpu_seconds
        return self.reports / used if used else 0.0


class _Cpu:
    def __init__(self, pid: int | None) -> None:
        self._pid = pid
        self._own = time.process_time()
        self._server = _server_cpu(pid)

    def used(self) -> tuple[float, float | None]:
        server = _server_cpu(self._pid)
        start = self._server
        return time.process_time() - self._own, (
            None if server is None or start is None else server - start
        )


class Receiver:
    """Counts pushed items; ``secret`` set: verifies the first request's signature."""

    def __init__(self) -> None:
        self.mids: set[str] = set()
        self.requests = 0
        self.secret: str | None = None
        self.verified = False
        self.changed = asyncio.Event()
        self.url = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/reports"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                if len(head) > MAX_HEAD:
                    break
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    if name:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self._count(headers, body)
                writer.write(NO_CONTENT)
                await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    def _count(self, headers: dict[str, str], body: bytes) -> None:
        if self.secret and not self.verified:
            verify_webhook(headers, body, self.secret)  # raises if the signing is wrong
            self.verified = True
        items = json.loads(body)
        self.mids.update(item["mid"] for item in items)
        self.requests += 1
        self.changed.set()

    async def wait_for(self, mids: set[str], timeout: float) -> float:
        """Loop time at which every one of ``mids`` had arrived."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not mids <= self.mids:
            self.changed.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise RuntimeError(f"{len(mids - self.mids)} reports never arrived")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), remaining)
        return asyncio.get_running_loop().time()


async def _send(client: AsyncClient, first: int, messages: int, concurrency: int) -> set[str]:
    mids: set[str] = set()
    starts = iter(range(0, messages, BATCH))

    async def sender() -> None:
        for start in starts:
            result = await client.send(
                numbers(first + start, min(BATCH, messages - start)), CONTENT
            )
            mids.update(i.mid for i in result.items if i.result == 0)

    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return mids


async def push_end_to_end(
    target: Target, receiver: Receiver, messages: int, concurrency: int = 4
) -> PushFigures:
    async with target.client() as client:
        answer = await client.set_callbacks(reports_url=receiver.url)
        if not answer.ok:
            raise RuntimeError(f"callback refused: {answer.msg}")
        receiver.secret = answer.secret or receiver.secret
        requests = receiver.requests
        cpu = _Cpu(target.server_pid)
        began = asyncio.get_running_loop().time()
        mids = await _send(client, E2E_FIRST, messages, concurrency)
        done = await receiver.wait_for(mids, 600)
    return PushFigures("end to end (send → report → push → 2xx)", len(mids),
                       receiver.requests - requests, done - began, *cpu.used())  # fmt: skip


async def _all_reported(client: AsyncClient, expected: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = await client._post(client._call("/customer/stats", {"grain": "day"}, {}))
        lines = stats.get("list") or []
        if (
            sum(int(line["pending"]) for line in lines) == 0
            and sum(int(line["submitted"]) for line in lines) >= expected
        ):
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the backlog was not reported in time")


async def push_backlog(
    target: Target, receiver: Receiver, messages: int, concurrency: int = 4, before: int = 0
) -> PushFigures:
    async with target.client() as client:
        await client.set_callbacks(reports_url="")
        mids = await _send(client, BACKLOG_FIRST, messages, concurrency)
        await _all_reported(client, before + len(mids), 600)
        requests = receiver.requests
        cpu = _Cpu(target.server_pid)
        began = asyncio.get_running_loop().time()
        answer = await client.set_callbacks(reports_url=receiver.url)
        if not answer.ok:
            raise RuntimeError(f"callback refused: {answer.msg}")
        done = await receiver.wait_for(mids, 600)
    return PushFigures("push only (a waiting backlog → 2xx)", len(mids),
                       receiver.requests - requests, done - began, *cpu.used())  # fmt: skip


@contextlib.asynccontextmanager
async def _receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


async def _measure(messages: int, arrangement: str) -> tuple[str, list[PushFigures], bool]:
    async with _receiver() as receiver, platform_for(arrangement) as target:
        e2e = await push_end_to_end(target, receiver, messages)
        backlog = await push_backlog(target, receiver, messages, before=e2e.reports)
        return target.arrangement, [e2e, backlog], receiver.verified


def run_push(messages: int, arrangement: str, console: Console) -> None:
    arranged, figures, verified = run(_measure(messages, arrangement))
    table = Table("phase", "reports", "POSTs", "seconds", "reports/s", "platform CPU s",
                  "reports per platform CPU s")  # fmt: skip
    for f in figures:
        used = f.server_cpu_seconds if f.server_cpu_seconds is not None else f.cpu_seconds
        table.add_row(f.name, str(f.reports), str(f.requests), f"{f.seconds:.2f}",
                      f"{f.reports_per_s:,.0f}", f"{used:.2f}",
                      f"{f.reports_per_platform_cpu_s:,.0f}")  # fmt: skip
    console.print(table)
    console.print(f"{arranged}; receiver in this process (keep-alive, 204)", highlight=False)
    console.print(f"signature of the first batch verified: {verified}", highlight=False)
    console.print(machine_summary(), highlight=False)
