"""Running the platform: ``init``, ``serve``, ``demo``, ``simulate`` and ``keygen``."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from duanxin.cli.common import (
    DatabaseOption,
    _fail,
    _run,
    _settings,
    _with_platform,
    console,
    database_failure,
    shown_url,
)
from duanxin.domain.encoding import Alphabet
from duanxin.service import admin

__all__ = ["demo", "duanxin_command", "init", "keygen", "print_demo", "serve", "simulate"]


def init(database_url: DatabaseOption = None) -> None:
    """Create or upgrade the database and print a new operator token."""
    settings = _settings(database_url)
    token = _with_platform(settings, admin.create_operator_token, create=True)
    console.print(f"database ready: {shown_url(settings.database_url)}", highlight=False)
    console.print(f"operator token (shown once): {token}", highlight=False)


def keygen() -> None:
    """Print a new key for the ``encryption_key`` setting (DUANXIN_ENCRYPTION_KEY)."""
    from duanxin.store.crypto import generate_key

    sys.stdout.write(generate_key() + "\n")


def serve(
    host: Annotated[str | None, typer.Option(help="HTTP address.")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port.")] = None,
    database_url: DatabaseOption = None,
    bus_url: Annotated[str | None, typer.Option(help="memory:// or redis://...")] = None,
    role: Annotated[str | None, typer.Option(help="all, api or worker.")] = None,
    workers: Annotated[
        str, typer.Option(help="Processes of this role (sharing the port); auto: one per core.")
    ] = "1",
) -> None:
    """Run the platform: HTTP API, delivery workers, sweeper."""
    from duanxin.delivery.process import with_delivery_default
    from duanxin.logs import configure_logging
    from duanxin.runtime import DeliveryGaveUp, StartupError, running_platform, stop_signals

    settings = _settings(database_url, host=host, port=port, bus_url=bus_url, role=role)
    settings = with_delivery_default(settings)
    if workers != "1":
        raise typer.Exit(code=_serve_processes(settings, workers))
    configure_logging(settings)

    async def run() -> None:
        with stop_signals() as stop:
            async with running_platform(settings) as running:
                if running.delivery is not None:
                    console.print(f"delivery in its own process (pid {running.delivery.pid})")
                console.print(f"duanxin serving on {running.url} (role {settings.role})")
                for protocol, where in (
                    running.access.addresses() if running.access else {}
                ).items():
                    console.print(f"customer {protocol.upper()} on {where['host']}:{where['port']}")
                await running.until_stopped(stop)
                console.print(
                    f"stopping (up to {settings.shutdown_grace_seconds:g} s for submits "
                    "on the wire)"
                )

    try:
        _run(run())
    except (SQLAlchemyError, ConnectionError) as error:
        raise database_failure(settings, error) from error
    except StartupError as error:  # one line, at once (no retrying, no traceback)
        raise _fail(f"cannot start: {error}") from None
    except DeliveryGaveUp as error:
        raise _fail(f"stopped: {error}") from None


def _serve_processes(settings: Any, workers: str) -> int:
    """``serve --workers N``: N child processes (see :mod:`duanxin.cluster.processes`)."""
    import os

    from duanxin.cluster.processes import child_environments, run_processes, worker_count

    try:
        count = worker_count(workers)
        environments = child_environments(settings, count, os.environ)
    except ValueError as error:
        raise _fail(str(error)) from None
    if count > 1 and not settings.bus_url.startswith("redis"):
        # In-process buses and per-process node ids cannot be shared between processes.
        raise _fail(
            "--workers needs the cluster backends: set DUANXIN_BUS_URL=redis://... "
            "(and DUANXIN_DATABASE_URL to PostgreSQL); on SQLite, delivery gets a process of "
            "its own with DUANXIN_DELIVERY_PROCESS=true"
        )
    if count > 1 and settings.role != "worker" and settings.port == 0:
        raise _fail("--workers with the HTTP API needs a fixed --port")
    console.print(f"duanxin starting {count} processes (role {settings.role})")
    codes: list[int] = []

    async def run() -> None:
        codes.append(await run_processes(environments))

    _run(run())
    return codes[0] if codes else 0


def demo(
    host: Annotated[str, typer.Option(help="Address for the API and simulators.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8080,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its files.")] = Path(
        "demo-data"
    ),
    keep: Annotated[
        bool, typer.Option("--keep", help="Reuse the data directory and keys of the last run.")
    ] = False,
) -> None:
    """Start everything with simulated carriers and print how to send a first SMS."""
    from duanxin.demo import DemoFacts, run_demo

    def announce(facts: DemoFacts) -> None:
        print_demo(facts, data_dir.resolve())

    from duanxin.runtime import DeliveryGaveUp, StartupError

    logging.basicConfig(level=logging.WARNING)
    try:
        _run(run_demo(host, port, data_dir, announce=announce, keep=keep))
    except StartupError as error:
        raise _fail(f"cannot start: {error}") from None
    except DeliveryGaveUp as error:
        raise _fail(f"stopped: {error}") from None


def duanxin_command() -> str:
    """How to run this very ``duanxin`` from any shell: the script next to this Python
    (a virtualenv's), else this Python with ``-m duanxin.cli``."""
    script = Path(sys.executable).parent / "duanxin"
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m duanxin.cli"


def print_demo(facts: Any, data_dir: Path) -> None:
    """What the demo tells: its facts, then commands that work when pasted as printed."""
    q = shlex.quote
    duanxin = duanxin_command()
    lines = [
        "[bold green]duanxin demo is running[/bold green]",
        f"API:            {facts.url}",
        f"SecretId:       {facts.secret_id}",
        f"SecretKey:      {facts.secret_key}",
        f"account:        {facts.account}   password: {facts.password}",
        f"operator token: {facts.operator_token}",
        f"facts in:       {data_dir / 'demo.json'}",
        f"API docs:       {facts.url}/docs",
        "",
        "Web console:",
        f"  operator:  {facts.console_url}   user: {facts.operator_user}   "
        f"password: {facts.operator_password}",
        f"  customer:  {facts.customer_console_url}   account: {facts.account}   "
        f"password: {facts.password}",
        "",
        "Use the demo from every later duanxin command (another shell):",
        f"  export DUANXIN_CONFIG={q(facts.config_file)}",
        "",
        "Send an SMS (signed request, as the published samples do):",
        # One number per example: a verification code goes to a number at most once a minute.
        f"  {duanxin} send --url {facts.url} --secret-id {facts.secret_id} "
        f"--secret-key {facts.secret_key} --account {facts.account} "
        f"--password {facts.password} 13800138000 '您的验证码是1234'",
        "",
        "Its delivery report, a second later:",
        f"  DUANXIN_CONFIG={q(facts.config_file)} {duanxin} reports",
        "",
        "Or with curl:",
        _curl_example(facts),
        "",
        "Or in Python:",
        f"  {q(sys.executable)} -c {q(_python_example(facts))}",
        "",
        "Operator REST (accounts, channels, review):",
        f"  curl -s -H 'Authorization: Bearer {facts.operator_token}' {facts.url}/admin/accounts",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True, markup=line.startswith("[bold"))
    for protocol, where in facts.access.items():  # the customer CMPP/SMPP servers
        address = f"{where['host']}:{where['port']}"
        login = f"log in as {facts.account} / {facts.password}"
        console.print(f"\n{protocol.upper()} access: {address} ({login})", highlight=False)
    if facts.access_snippet():
        pip = shlex.quote(str(Path(sys.executable).parent / "pip"))
        console.print(
            f"\nOver SMPP with smpplib (first: {pip} install smpplib; Ctrl-C ends it):",
            highlight=False,
        )
        python = f"  {shlex.quote(sys.executable)} -c {shlex.quote(facts.access_snippet())}"
        console.print(python, highlight=False, soft_wrap=True)


def _python_example(facts: Any) -> str:
    def q(text: str) -> str:  # a double-quoted literal: no quote to escape in the shell
        return json.dumps(text, ensure_ascii=False)

    args = ", ".join(
        q(v) for v in (facts.url, facts.secret_id, facts.secret_key, facts.account, facts.password)
    )
    return (
        f"from duanxin.client import Client; c = Client({args}); "
        f"print(c.send({q('18600000000')}, {q('您的验证码是1234')})); print(c.balance())"
    )


def _curl_example(facts: Any) -> str:
    return (
        "  D=$(LC_ALL=C date -u '+%a, %d %b %Y %H:%M:%S GMT'); "
        f"S=$(printf 'x-date: %s\\nx-source: market' \"$D\" | openssl dgst -sha1 -hmac "
        f"'{facts.secret_key}' -binary | base64); "
        f"curl -s {facts.url}/smssend -H \"X-Date: $D\" -H 'X-Source: market' "
        f'-H "Authorization: hmac id=\\"{facts.secret_id}\\", algorithm=\\"hmac-sha1\\", '
        f'headers=\\"x-date x-source\\", signature=\\"$S\\"" '
        f"--data-urlencode account={facts.account} --data-urlencode password={facts.password} "
        "--data-urlencode mobile=13900139000 --data-urlencode 'content=您的验证码是1234'"
    )


def simulate(
    protocol: Annotated[str, typer.Argument(help="cmpp, sgip, smgp, smpp or all.")],
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="0: any free port; with 'all', the first of four.")] = 0,
    account: Annotated[str | None, typer.Option(help="Accept only this account.")] = None,
    password: Annotated[str | None, typer.Option(help="Its password.")] = None,
    report_delay: Annotated[float, typer.Option(help="Seconds before a report.")] = 1.0,
    fail_ratio: Annotated[float, typer.Option(help="Share of reports that fail.")] = 0.0,
    tps: Annotated[float | None, typer.Option(help="Per-connection submit limit.")] = None,
    faults: Annotated[
        str,
        typer.Option(
            help="Fault profile, e.g. throttle:0.2,enroute,drop-every:500 "
            "(see duanxin.simulator.faults)."
        ),
    ] = "",
    seed: Annotated[int | None, typer.Option(help="Seed for failure and fault draws.")] = None,
    alphabet: Annotated[
        Alphabet, typer.Option(help="SMPP: what data_coding 0 is on this gateway.")
    ] = Alphabet.ASCII,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print traffic.")] = False,
    sp_host: Annotated[str, typer.Option(help="SGIP: the SP's listener host.")] = "127.0.0.1",
    sp_port: Annotated[
        int | None, typer.Option(help="SGIP: the SP's listener port, for reports and MO.")
    ] = None,
) -> None:
    """Run carrier simulators in the foreground."""
    from duanxin.simulator.core import SimulatorConfig
    from duanxin.simulator.faults import parse_faults
    from duanxin.simulator.registry import PROTOCOLS, create_simulator

    names = list(PROTOCOLS) if protocol == "all" else [protocol]
    if any(name not in PROTOCOLS for name in names):
        raise _fail(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)} or all")
    if (account is None) != (password is None):
        raise _fail("--account and --password go together")
    try:
        profile = parse_faults(faults)
    except ValueError as error:
        raise _fail(f"--faults: {error}") from None
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")

    async def run() -> None:
        running = []
        for index, name in enumerate(names):
            config = SimulatorConfig(
                host=host,
                port=port + index if port else 0,
                account=account,
                password=password,
                report_delay=report_delay,
                fail_ratio=fail_ratio,
                tps=tps,
                verbose=verbose,
                seed=seed,
                faults=profile,
                alphabet=alphabet,
            )
            simulator = create_simulator(name, config)
            if name == "sgip" and sp_port is not None:
                # SGIP's gateway connects back to the SP to deliver reports and replies.
                simulator.sp_address = (sp_host, sp_port)  # type: ignore[attr-defined]
            await simulator.start()
            running.append(simulator)
            console.print(f"{name} simulator listening on {host}:{simulator.port}")
        if profile.any:
            console.print(f"faults: {profile}")
        try:
            await asyncio.Event().wait()
        finally:
            for simulator in running:
                await simulator.stop()

    try:
        _run(run())
    except OSError as error:
        raise _fail(str(error)) from None
