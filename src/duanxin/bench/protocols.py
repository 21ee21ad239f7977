"""``duanxin bench protocols``: codec speed and loopback submits per protocol.

Two measurements per protocol:

* codec: a submit PDU built by the protocol's carrier adapter from a short UCS-2 message,
  encoded again and again through the dialect, then the encoded frames decoded through
  the protocol's incremental decoder (fed 100 frames at a time, as a socket read would);
* loopback: the protocol's carrier client (``open_client``) against its simulator in the
  same process and event loop, so one core carries both ends. ``submitters`` coroutines
  submit as fast as the window (default 16) lets them; every submit response and every
  status report the simulator sends back is counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from duanxin.bench import event_loop_name, machine_summary, run
from duanxin.domain.segments import split_message
from duanxin.protocols.carrier import (
    CarrierClient,
    CarrierReport,
    ChannelSettings,
    Inbound,
    OutboundMessage,
)
from duanxin.simulator.core import SimulatorConfig
from duanxin.simulator.registry import PROTOCOLS, create_simulator

__all__ = [
    "PROTOCOLS",
    "CodecFigures",
    "LoopbackFigures",
    "codec_bench",
    "loopback_bench",
    "run_protocols",
]

TEXT = "您的验证码是123456，五分钟内有效。"
SOURCE, DESTINATION = "106901234", "13800138000"
PASSWORD = "bench123"  # SMPP allows at most 8 bytes
FRAMES_PER_READ = 100
ENCODE_BATCH = 500

Tick = Callable[[float], None]  # called with the fraction of the run done (0..1)


@dataclass(frozen=True, slots=True)
class CodecFigures:
    protocol: str
    pdu_bytes: int
    encodes: int
    encode_seconds: float
    decodes: int
    decode_seconds: float

    @property
    def encodes_per_s(self) -> float:
        return self.encodes / self.encode_seconds if self.encode_seconds else 0.0

    @property
    def decodes_per_s(self) -> float:
        return self.decodes / self.decode_seconds if self.decode_seconds else 0.0


@dataclass(frozen=True, slots=True)
class LoopbackFigures:
    protocol: str
    window: int
    submitters: int
    accepted: int  # submit responses with status 0
    refused: int  # submit responses with another status, or submits that raised
    submit_seconds: float
    reports: int
    report_seconds: float  # from the first submit to the last report
    cpu_seconds: float  # process CPU time over the submit phase

    @property
    def submits_per_s(self) -> float:
        return self.accepted / self.submit_seconds if self.submit_seconds else 0.0

    @property
    def reports_per_s(self) -> float:
        return self.reports / self.report_seconds if self.report_seconds else 0.0


def _channel(protocol: str, port: int) -> ChannelSettings:
    account = "922011" if protocol == "cmpp" else f"{protocol}sp"
    extra: dict[str, Any] = {}
    if protocol == "sgip":
        extra = {"listen_host": "127.0.0.1", "listen_port": 0}
    return ChannelSettings(
        host="127.0.0.1",
        port=port,
        account=account,
        password=PASSWORD,
        access_code=SOURCE,
        service_id="BENCH",
        sp_code="92201" if protocol == "sgip" else "922011",  # SGIP CorpId: 5 digits
        response_timeout=30.0,
        extra=extra,
    )


def _client_module(protocol: str) -> Any:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    return importlib.import_module(f"duanxin.protocols.{protocol}")


def codec_bench(protocol: str, seconds: float, tick: Tick | None = None) -> CodecFigures:
    """Submit encodes/s and decodes/s, each measured for about ``seconds`` / 2."""
    module = _client_module(protocol)
    client = module.open_client(_channel(protocol, 0), lambda _: None)
    adapter = client.adapter
    message = OutboundMessage(source=SOURCE, destination=DESTINATION, text=TEXT)
    pdu = adapter.submit_requests(message, split_message(TEXT, 0))[0]
    encode = adapter.new_dialect().encode
    frame = encode(pdu)
    half = seconds / 2

    encodes, started = 0, time.perf_counter()
    deadline = started + half
    while (now := time.perf_counter()) < deadline:
        for _ in range(ENCODE_BATCH):
            encode(pdu)
        encodes += ENCODE_BATCH
        if tick:
            tick((now - started) / seconds)
    encode_seconds = time.perf_counter() - started

    chunk = frame * FRAMES_PER_READ
    decoder = adapter.new_dialect().decoder
    decodes, started = 0, time.perf_counter()
    deadline = started + half
    while (now := time.perf_counter()) < deadline:
        decoder.feed(chunk)
        for _ in decoder.pdus():
            decodes += 1
        if tick:
            tick(0.5 + (now - started) / seconds)
    decode_seconds = time.perf_counter() - started
    if tick:
        tick(1.0)
    return CodecFigures(protocol, len(frame), encodes, encode_seconds, decodes, decode_seconds)


@dataclass
class _Counter:
    reports: int = 0
    last_report: float = 0.0
    drained: asyncio.Event = field(default_factory=asyncio.Event)
    expected: int | None = None

    def on_inbound(self, item: Inbound) -> None:
        if isinstance(item, CarrierReport):
            self.reports += 1
            self.last_report = time.perf_counter()
            if self.expected is not None and self.reports >= self.expected:
                self.drained.set()


async def _wait_up(client: CarrierClient, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    while not client.is_up:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"client did not log in: {getattr(client, 'last_error', '')}")
        await asyncio.sleep(0.01)


async def loopback_bench(
    protocol: str,
    seconds: float,
    *,
    window: int = 16,
    submitters: int = 32,
    report_delay: float = 0.01,
    tick: Tick | None = None,
) -> LoopbackFigures:
    """Submit for ``seconds`` through a real client to a simulator, then wait for reports."""
    module = _client_module(protocol)
    account = _channel(protocol, 0).account
    config = SimulatorConfig(account=account, password=PASSWORD, report_delay=report_delay)
    simulator = create_simulator(protocol, config)
    await simulator.start()
    counter = _Counter()
    settings = dataclasses.replace(_channel(protocol, simulator.port), window=window)
    client: CarrierClient = module.open_client(settings, counter.on_inbound)
    try:
        await client.start()
        if protocol == "sgip":
            simulator.sp_address = ("127.0.0.1", client.listen_port)  # type: ignore[attr-defined]
        await _wait_up(client, 10.0)
        return await _drive(protocol, client, counter, seconds, window, submitters, tick)
    finally:
        await client.close()
        await simulator.stop()


async def _drive(
    protocol: str,
    client: CarrierClient,
    counter: _Counter,
    seconds: float,
    window: int,
    submitters: int,
    tick: Tick | None,
) -> LoopbackFigures:
    message = OutboundMessage(source=SOURCE, destination=DESTINATION, text=TEXT)
    accepted = refused = 0
    started = time.perf_counter()
    cpu_started = time.process_time()
    deadline = started + seconds

    async def submitter() -> None:
        nonlocal accepted, refused
        while time.perf_counter() < deadline:
            try:
                result = await client.submit(message)
            except (ConnectionError, TimeoutError, OSError):
                refused += 1
                await asyncio.sleep(0.01)
                continue
            if result.accepted:
                accepted += 1
            else:
                refused += 1
            if tick:
                tick(min(1.0, (time.perf_counter() - started) / seconds))

    await asyncio.gather(*(submitter() for _ in range(submitters)))
    submit_seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    counter.expected = accepted
    if counter.reports < accepted:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(counter.drained.wait(), 10.0 + seconds)
    report_seconds = (counter.last_report - started) if counter.reports else 0.0
    return LoopbackFigures(
        protocol, window, submitters, accepted, refused, submit_seconds,
        counter.reports, report_seconds, cpu_seconds,
    )  # fmt: skip


# -- the command ---------------------------------------------------------------------------


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def _ticker(progress: Progress, description: str) -> Tick:
    task = progress.add_task(description, total=1.0)

    def tick(done: float) -> None:
        progress.update(task, completed=done)

    return tick


async def _all(
    protocols: Sequence[str], seconds: float, window: int, submitters: int, console: Console
) -> tuple[list[CodecFigures], list[LoopbackFigures]]:
    codecs: list[CodecFigures] = []
    loops: list[LoopbackFigures] = []
    with _progress(console) as progress:
        for protocol in protocols:
            tick = _ticker(progress, f"{protocol}: codec")
            codecs.append(codec_bench(protocol, seconds, tick))
            tick = _ticker(progress, f"{protocol}: loopback submits")
            loops.append(
                await loopback_bench(
                    protocol, seconds, window=window, submitters=submitters, tick=tick
                )
            )
            tick(1.0)
    return codecs, loops


def run_protocols(
    protocol: str, seconds: float, window: int, submitters: int, console: Console
) -> None:
    """Run the benchmark for one protocol or ``all`` and print a table."""
    protocols = PROTOCOLS if protocol == "all" else (protocol,)
    for name in protocols:
        _client_module(name)
    console.print(f"machine: {machine_summary()}", highlight=False)
    console.print(
        "loopback: client and simulator in this one process, one event loop "
        f"({event_loop_name()}), so one core serves both ends",
        highlight=False,
    )
    codecs, loops = run(_all(protocols, seconds, window, submitters, console))
    console.print(_codec_table(codecs, seconds))
    console.print(_loopback_table(loops, seconds))


def _table(title: str, columns: Sequence[str]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column == "protocol" else "right")
    return table


def _codec_table(codecs: Sequence[CodecFigures], seconds: float) -> Table:
    table = _table(
        f"submit PDU codec ({seconds / 2:g} s each)",
        ("protocol", "PDU size", "encodes/s", "decodes/s"),
    )
    for codec in codecs:
        table.add_row(
            codec.protocol,
            f"{codec.pdu_bytes} B",
            f"{codec.encodes_per_s:,.0f}",
            f"{codec.decodes_per_s:,.0f}",
        )
    return table


def _loopback_table(loops: Sequence[LoopbackFigures], seconds: float) -> Table:
    table = _table(
        f"loopback client -> simulator ({seconds:g} s)",
        ("protocol", "window", "submitters", "submits/s", "refused", "reports", "reports/s",
         "CPU"),
    )  # fmt: skip
    for loop in loops:
        table.add_row(
            loop.protocol,
            str(loop.window),
            str(loop.submitters),
            f"{loop.submits_per_s:,.0f}",
            f"{loop.refused:,}",
            f"{loop.reports:,}/{loop.accepted:,}",
            f"{loop.reports_per_s:,.0f}",
            f"{loop.cpu_seconds / loop.submit_seconds:.0%}" if loop.submit_seconds else "-",
        )
    return table
