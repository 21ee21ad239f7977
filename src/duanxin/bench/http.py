"""``duanxin bench http``: the HTTP API under load.

Three measurements against one platform with the demo's simulated carriers:

* end to end: ``messages`` numbers sent in 500-number requests while a puller drains
  ``/smsreport``; the clock stops when every accepted ``mid`` has its report;
* single-number sends for ``seconds`` at ``concurrency``: requests/s, p50 and p99 latency;
* 500-number sends for ``seconds`` at ``concurrency``: messages accepted per second.

End to end runs first, on an idle platform; the two send phases then run while delivery
works through what the earlier phases accepted, as it would in service.

The send phases use the lean benchmark client of :mod:`duanxin.bench.rawhttp` by default
(``client="raw"``: one keep-alive connection per worker, pre-encoded requests), so that
they measure the server rather than httpx; ``client="sdk"`` sends through the SDK
(``AsyncClient``) as before. End to end always uses the SDK: it needs every ``mid`` and
report, and its few large requests cost the load generator little.

Where the platform runs is :mod:`duanxin.bench.server`'s business (``arrangement``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from duanxin.bench import machine_summary, run
from duanxin.bench.rawhttp import RawClient, RawConnection, RawHttpError
from duanxin.bench.server import Target, platform_for
from duanxin.client import AsyncClient, DuanxinError

__all__ = [
    "CLIENTS",
    "EndToEndFigures",
    "HttpOptions",
    "SendFigures",
    "Target",
    "batch_sends",
    "end_to_end",
    "numbers",
    "run_http",
    "single_sends",
]

CONTENT = "【duanxin】您的验证码是123456，五分钟内有效。"
# A verification code goes to a number once a minute: each phase sends to numbers of its own
# (1-number sends from 0, end to end from 10,000,000, 500-number sends from this one).
BATCH_FIRST_NUMBER = 50_000_000
PREFIXES = ("138", "186", "189")  # China Mobile, Unicom, Telecom: all three simulators
BATCH = 500
CLIENTS = ("raw", "sdk")
CLIENT_NAMES = {
    "raw": "raw (duanxin.bench.rawhttp: one keep-alive HTTP/1.1 connection per worker, "
    "pre-encoded requests) for the send phases, SDK for end to end",
    "sdk": "sdk (duanxin.client.AsyncClient, httpx) for every phase",
}

Tick = Callable[[float], None]  # called with the fraction of the phase done (0..1)


@dataclass(frozen=True, slots=True)
class SendFigures:
    name: str
    concurrency: int
    requests: int  # answered with status 0
    messages: int  # numbers accepted (per-number result 0)
    errors: int  # refused requests and exceptions
    seconds: float
    p50_ms: float
    p99_ms: float
    cpu_seconds: float  # this process
    server_cpu_seconds: float | None  # the child server process, when there is one

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True)
class EndToEndFigures:
    messages: int  # accepted
    reports: int  # of those, reports pulled
    delivered: int  # of those, DELIVRD
    send_seconds: float  # until the last send was answered
    seconds: float  # until the last report was pulled
    cpu_seconds: float
    server_cpu_seconds: float | None

    @property
    def messages_per_s(self) -> float:
        return self.reports / self.seconds if self.seconds else 0.0


def numbers(start: int, count: int) -> list[str]:
    """``count`` distinct valid mainland numbers, spread over the three networks."""
    return [f"{PREFIXES[i % 3]}{(start + i) % 100_000_000:08d}" for i in range(count)]


def _server_cpu(pid: int | None) -> float | None:
    """CPU seconds of the server process and of its live child processes (the delivery
    process of the ``delivery`` arrangement)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_server_cpu(child) or 0.0 for child in _children(pid))


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, round(fraction * (len(sorted_values) - 1)))
    return sorted_values[index] * 1000


class _Clock:
    """Wall and CPU time since the phase began, for this process and the server."""

    def __init__(self, server_pid: int | None) -> None:
        self.server_pid = server_pid
        self.started = time.perf_counter()
        self.cpu = time.process_time()
        self.server = _server_cpu(server_pid)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def cpu_used(self) -> float:
        return time.process_time() - self.cpu

    def server_used(self) -> float | None:
        now = _server_cpu(self.server_pid)
        return None if now is None or self.server is None else now - self.server


class _Sender:
    """What a send-phase worker calls: ``send(mobiles) -> (status, accepted numbers)``."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def send(self, mobiles: Sequence[str]) -> tuple[int, int]:
        result = await self._client.send(mobiles, CONTENT)
        return result.status, sum(1 for item in result.items if item.result == 0)


@contextlib.asynccontextmanager
async def _senders(
    target: Target, client: str, count: int
) -> AsyncIterator[Sequence[_Sender | RawConnection]]:
    """One sender per worker: raw connections of their own, or one shared SDK client."""
    if client == "sdk":
        async with target.client() as sdk:
            yield [_Sender(sdk)] * count
    elif client == "raw":
        async with RawClient(
            target.url, target.secret_id, target.secret_key, target.account, target.password,
            CONTENT,
        ) as raw:  # fmt: skip
            yield [raw.connection() for _ in range(count)]
    else:
        raise ValueError(f"unknown client {client!r}; choose {' or '.join(CLIENTS)}")


async def _send_phase(
    target: Target,
    name: str,
    batch: int,
    seconds: float,
    concurrency: int,
    tick: Tick | None,
    client: str,
    first_number: int = 0,
) -> SendFigures:
    latencies: list[float] = []
    requests = messages = errors = 0
    counter = first_number
    async with _senders(target, client, concurrency) as senders:
        clock = _Clock(target.server_pid)  # from the first request, not the client set-up
        deadline = clock.started + seconds

        async def worker(sender: _Sender | RawConnection) -> None:
            nonlocal requests, messages, errors, counter
            while time.perf_counter() < deadline:
                mobiles = numbers(counter, batch)
                counter += batch
                began = time.perf_counter()
                try:
                    status, accepted = await sender.send(mobiles)
                except (DuanxinError, RawHttpError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - began)
                if status == 0:
                    requests += 1
                    messages += accepted
                else:
                    errors += 1
                if tick:
                    tick(min(1.0, clock.elapsed() / seconds))

        await asyncio.gather(*(worker(sender) for sender in senders))
    latencies.sort()
    return SendFigures(
        name, concurrency, requests, messages, errors, clock.elapsed(),
        _percentile(latencies, 0.5), _percentile(latencies, 0.99),
        clock.cpu_used(), clock.server_used(),
    )  # fmt: skip


async def single_sends(
    target: Target,
    seconds: float,
    concurrency: int,
    tick: Tick | None = None,
    *,
    client: str = "raw",
) -> SendFigures:
    """One number per request for ``seconds`` from ``concurrency`` workers."""
    return await _send_phase(target, "1 number/request", 1, seconds, concurrency, tick, client)


async def batch_sends(
    target: Target,
    seconds: float,
    concurrency: int,
    tick: Tick | None = None,
    *,
    client: str = "raw",
) -> SendFigures:
    """500 numbers per request for ``seconds`` from ``concurrency`` workers."""
    name = f"{BATCH} numbers/request"
    return await _send_phase(
        target, name, BATCH, seconds, concurrency, tick, client, BATCH_FIRST_NUMBER
    )


async def end_to_end(
    target: Target,
    messages: int,
    concurrency: int,
    *,
    timeout: float = 300.0,
    tick: Tick | None = None,
) -> EndToEndFigures:
    """Send ``messages`` numbers in 500-number requests; pull until each has its report."""
    clock = _Clock(target.server_pid)
    pending: set[str] = set()
    stats: dict[str, str] = {}
    accepted = 0
    sending_done = asyncio.Event()
    send_seconds = 0.0
    last_report = 0.0
    batches = iter(range(0, messages, BATCH))
    async with target.client() as client:

        async def sender() -> None:
            nonlocal accepted
            for start in batches:
                count = min(BATCH, messages - start)
                result = await client.send(numbers(10_000_000 + start, count), CONTENT)
                for item in result.items:
                    if item.result == 0:
                        accepted += 1
                        if item.mid not in stats:
                            pending.add(item.mid)

        async def puller() -> None:
            nonlocal last_report
            while not (sending_done.is_set() and not pending):
                got = await client.reports(size=10_000)
                for report in got:
                    if report.mid in pending or not sending_done.is_set():
                        pending.discard(report.mid)
                        stats[report.mid] = report.stat
                        last_report = clock.elapsed()
                if tick:
                    tick(min(1.0, len(stats) / messages))
                if not got.items:
                    await asyncio.sleep(0.05)

        pulling = asyncio.create_task(puller())
        try:
            await asyncio.gather(*(sender() for _ in range(concurrency)))
            send_seconds = clock.elapsed()
            sending_done.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(pulling), timeout)
        finally:
            pulling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pulling
    reported = accepted - len(pending)
    delivered = sum(1 for stat in stats.values() if stat == "DELIVRD")
    return EndToEndFigures(
        accepted, reported, delivered, send_seconds, last_report,
        clock.cpu_used(), clock.server_used(),
    )  # fmt: skip


# -- the command ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HttpOptions:
    seconds: float = 10.0
    concurrency: int = 32
    batch_concurrency: int = 4
    e2e_messages: int = 20_000
    arrangement: str = "process"
    url: str | None = None
    demo_json: Path | None = None
    client: str = "raw"


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    )


def _ticker(progress: Progress, description: str) -> Tick:
    task = progress.add_task(description, total=1.0)

    def tick(done: float) -> None:
        progress.update(task, completed=done)

    return tick


async def _measure(
    options: HttpOptions, console: Console
) -> tuple[str, EndToEndFigures, SendFigures, SendFigures]:
    if options.client not in CLIENTS:
        raise ValueError(f"unknown client {options.client!r}; choose {' or '.join(CLIENTS)}")
    async with platform_for(options.arrangement, options.url, options.demo_json) as target:
        console.print(_arrangement(target.arrangement, options.client), highlight=False)
        with _progress(console) as progress:
            tick = _ticker(progress, f"end to end ({options.e2e_messages:,} messages)")
            e2e = await end_to_end(
                target, options.e2e_messages, options.batch_concurrency, tick=tick
            )
            tick(1.0)
            tick = _ticker(progress, f"1-number sends (c={options.concurrency})")
            single = await single_sends(
                target, options.seconds, options.concurrency, tick, client=options.client
            )
            tick(1.0)
            tick = _ticker(progress, f"{BATCH}-number sends (c={options.batch_concurrency})")
            batch = await batch_sends(
                target, options.seconds, options.batch_concurrency, tick, client=options.client
            )
            tick(1.0)
        return target.arrangement, e2e, single, batch


def _arrangement(arrangement: str, client: str) -> str:
    return f"arrangement: {arrangement}; client: {CLIENT_NAMES[client]}"


def _share(used: float | None, seconds: float) -> str:
    return "-" if used is None or not seconds else f"{used / seconds:.0%}"


def _per_request(used: float | None, requests: int) -> str:
    """CPU per answered request: comparable across runs on a machine whose speed drifts."""
    return "-" if used is None or not requests else f"{used * 1000 / requests:.2f}"


def _table(e2e: EndToEndFigures, single: SendFigures, batch: SendFigures) -> Table:
    table = Table(title="duanxin bench http")
    columns = (
        "phase",
        "req/s",
        "msg/s",
        "p50 ms",
        "p99 ms",
        "errors",
        "load CPU",
        "server CPU",
        "server CPU ms/req",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "phase" else "right")
    for figures, name in ((single, "1 number"), (batch, f"{BATCH} numbers")):
        table.add_row(
            f"{name}, c={figures.concurrency}",
            f"{figures.requests_per_s:,.0f}",
            f"{figures.messages_per_s:,.0f}",
            f"{figures.p50_ms:,.0f}",
            f"{figures.p99_ms:,.0f}",
            f"{figures.errors:,}",
            _share(figures.cpu_seconds, figures.seconds),
            _share(figures.server_cpu_seconds, figures.seconds),
            _per_request(figures.server_cpu_seconds, figures.requests),
        )
    table.add_row(
        "end to end",
        "",
        f"{e2e.messages_per_s:,.0f}",
        "",
        "",
        f"{e2e.messages - e2e.reports:,}",
        _share(e2e.cpu_seconds, e2e.seconds),
        _share(e2e.server_cpu_seconds, e2e.seconds),
        "",
    )
    return table


def run_http(options: HttpOptions, console: Console) -> None:
    """Run the three phases with a progress bar, then print the table."""
    console.print(f"machine: {machine_summary()}, pid {os.getpid()}", highlight=False)
    arrangement, e2e, single, batch = run(_measure(options, console))
    console.print(_table(e2e, single, batch))
    console.print(
        f"end to end: {e2e.reports:,}/{e2e.messages:,} accepted messages reported "
        f"({e2e.delivered:,} DELIVRD); sends answered by {e2e.send_seconds:.1f} s, "
        f"last report pulled at {e2e.seconds:.1f} s",
        highlight=False,
    )
    console.print(_arrangement(arrangement, options.client), highlight=False)
