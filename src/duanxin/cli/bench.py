"""``duanxin bench``: benchmarks (not tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from duanxin.cli.common import _fail, console

__all__ = ["bench_app"]

bench_app = typer.Typer(help="Benchmarks (not tests).", no_args_is_help=True)


@bench_app.command("protocols")
def bench_protocols(
    protocol: Annotated[str, typer.Option(help="cmpp, sgip, smgp, smpp or all.")] = "all",
    seconds: Annotated[float, typer.Option(help="Seconds per measurement.")] = 5.0,
    window: Annotated[int, typer.Option(help="Outstanding submits per session.")] = 16,
    submitters: Annotated[int, typer.Option(help="Concurrent submitting coroutines.")] = 32,
) -> None:
    """Submit PDU encodes/decodes per second, and loopback submits/s client -> simulator."""
    from duanxin.bench.protocols import run_protocols

    try:
        run_protocols(protocol, seconds, window, submitters, console)
    except ValueError as error:
        raise _fail(str(error)) from None


@bench_app.command("http")
def bench_http(
    seconds: Annotated[float, typer.Option(help="Seconds per send phase.")] = 10.0,
    concurrency: Annotated[int, typer.Option(help="Workers for 1-number sends.")] = 32,
    batch_concurrency: Annotated[int, typer.Option(help="Workers for 500-number sends.")] = 4,
    e2e_messages: Annotated[int, typer.Option(help="Messages for the end-to-end run.")] = 20_000,
    arrangement: Annotated[
        str,
        typer.Option(
            help="process, delivery (delivery in a process of its own next to the API), "
            "split (simulators in their own process) or inprocess."
        ),
    ] = "process",
    url: Annotated[str | None, typer.Option(help="A running platform instead.")] = None,
    demo_json: Annotated[
        Path | None, typer.Option(help="demo.json of the platform at --url.")
    ] = None,
    client: Annotated[
        str,
        typer.Option(
            help="Load generator for the send phases: raw (lean HTTP/1.1, one keep-alive "
            "connection per worker) or sdk (AsyncClient, httpx). End to end uses the SDK."
        ),
    ] = "raw",
) -> None:
    """HTTP API: 1-number sends/s with latency, 500-number sends, end to end."""
    from duanxin.bench.http import HttpOptions, run_http

    options = HttpOptions(
        seconds, concurrency, batch_concurrency, e2e_messages, arrangement, url, demo_json,
        client,
    )  # fmt: skip
    try:
        run_http(options, console)
    except (ValueError, RuntimeError) as error:
        raise _fail(str(error)) from None


@bench_app.command("push")
def bench_push(
    messages: Annotated[int, typer.Option(help="Reports per phase.")] = 20_000,
    arrangement: Annotated[
        str, typer.Option(help="process (platform in a child process) or inprocess.")
    ] = "process",
) -> None:
    """Push callbacks: reports per second to a local receiver, end to end and push only."""
    from duanxin.bench.push import run_push

    try:
        run_push(messages, arrangement, console)
    except (ValueError, RuntimeError) as error:
        raise _fail(str(error)) from None


@bench_app.command("stats")
def bench_stats(
    accounts: Annotated[int, typer.Option(help="Accounts with counters.")] = 10,
    channels: Annotated[int, typer.Option(help="Channels per carrier.")] = 2,
    repeat: Annotated[int, typer.Option(help="Times each question is asked.")] = 20,
) -> None:
    """Statistics queries over a year of counters: median and slowest answer."""
    from duanxin.bench.stats import run_stats

    run_stats(accounts, channels, repeat, console)


@bench_app.command("access")
def bench_access(
    messages: Annotated[int, typer.Option(help="One-number messages to submit.")] = 20_000,
    window: Annotated[int, typer.Option(help="The customer's CMPP window.")] = 16,
    profile: Annotated[bool, typer.Option(help="Print the top of a cProfile.")] = False,
    delivery_process: Annotated[
        bool, typer.Option(help="Delivery in a process of its own (the demo's child).")
    ] = False,
) -> None:
    """Customer CMPP client -> access server -> platform -> simulator, reports back."""
    from duanxin.bench.access import run_access

    run_access(messages, window, console, profile=profile, delivery_process=delivery_process)


@bench_app.command("throttled")
def bench_throttled(
    messages: Annotated[int, typer.Option(help="Numbers to send.")] = 20_000,
    carrier_tps: Annotated[float, typer.Option(help="Submits/s the carrier accepts.")] = 300.0,
    channel_tps: Annotated[int, typer.Option(help="The channel's configured TPS.")] = 2000,
) -> None:
    """A carrier that throttles above its rate: delivered, failed, duplicates, rate."""
    from duanxin.bench.throttled import run_throttled

    run_throttled(messages, carrier_tps, channel_tps, console)


@bench_app.command("policy")
def bench_policy(
    templates: Annotated[int, typer.Option(help="Approved templates of the account.")] = 1000,
    words: Annotated[int, typer.Option(help="Sensitive words on the list.")] = 10000,
    messages: Annotated[int, typer.Option(help="Messages checked.")] = 20000,
    free_text: Annotated[
        float, typer.Option(help="Share of free text in the second run (classified).")
    ] = 0.5,
) -> None:
    """Policy check cost per message: templates required, then free text classified."""
    from duanxin.domain.policy.bench import benchmark_policy

    micros = benchmark_policy(templates, words, messages)
    console.print(
        f"policy check: {micros:.1f} µs per message "
        f"({templates} templates, {words} words, {messages} messages)",
        highlight=False,
    )
    if free_text > 0:
        micros = benchmark_policy(templates, words, messages, free_text=min(free_text, 1.0))
        console.print(
            f"policy check, {free_text:.0%} free text: {micros:.1f} µs per message "
            "(templates not required; free text gets its kind from the classifier)",
            highlight=False,
        )


@bench_app.command("console")
def bench_console(
    messages: Annotated[int, typer.Option(help="Messages in the store.")] = 1_000_000,
    days: Annotated[float, typer.Option(help="Days they spread over.")] = 30.0,
    database_url: Annotated[
        str | None, typer.Option(help="A fresh, empty database (default: temporary SQLite).")
    ] = None,
) -> None:
    """The operator dashboard's and a message search's time over many days of messages."""
    from duanxin.bench.console import run_console

    run_console(messages, days, database_url, console)


@bench_app.command("cluster")
def bench_cluster(
    workers: Annotated[
        str, typer.Option(help="Worker process counts, one run each: e.g. 1,2,4.")
    ] = "1,2,4",
    api: Annotated[
        int,
        typer.Option(help="API processes (serve --role api --workers N); 0: as many as workers."),
    ] = 2,
    messages: Annotated[int, typer.Option(help="Messages per run.")] = 10_000,
    postgres: Annotated[
        str, typer.Option(help="A PostgreSQL URL allowed to create and drop databases.")
    ] = "postgresql://postgres@127.0.0.1:5432/postgres",
    redis: Annotated[str, typer.Option(help="The Redis (a key prefix of its own).")] = (
        "redis://127.0.0.1:6379/0"
    ),
    logs: Annotated[
        Path | None, typer.Option(help="A folder for each process's log (default: a new one).")
    ] = None,
) -> None:
    """A local cluster on PostgreSQL and Redis: end-to-end msg/s with reports and CPU per
    message of each kind of process, for each worker count."""
    from duanxin.bench.cluster import ClusterOptions, run_cluster_bench

    try:
        counts = tuple(int(n) for n in workers.split(","))
    except ValueError:
        raise _fail(f"--workers is a list of numbers such as 1,2,4, not {workers!r}") from None
    if not counts or min(counts) < 1 or api < 0 or messages < 1:
        raise _fail("--workers and --messages must be at least 1, --api at least 0")
    options = ClusterOptions(counts, api, messages, postgres, redis, logs)
    try:
        run_cluster_bench(options, console)
    except (OSError, RuntimeError) as error:
        raise _fail(str(error)) from None
