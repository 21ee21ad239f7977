"""The ``duanxin`` command."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from duanxin.config import Settings
from duanxin.domain.accounts import AccessType
from duanxin.domain.billing import ChargeType
from duanxin.domain.reports import LongReport
from duanxin.service import admin
from duanxin.service.platform import Platform
from duanxin.store.engine import migrate

__all__ = ["app", "main"]

T = TypeVar("T")
app = typer.Typer(help="duanxin: an SMS platform.", no_args_is_help=True, add_completion=False)
account_app = typer.Typer(help="Customer accounts.", no_args_is_help=True)
channel_app = typer.Typer(help="Carrier channels and routes.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (not tests).", no_args_is_help=True)
signature_app = typer.Typer(help="Signatures 【...】 and their review.", no_args_is_help=True)
template_app = typer.Typer(help="Templates and their review.", no_args_is_help=True)
blacklist_app = typer.Typer(help="The global blacklist of numbers.", no_args_is_help=True)
optout_app = typer.Typer(help="Per-account opt-out lists.", no_args_is_help=True)
words_app = typer.Typer(help="The sensitive-word list.", no_args_is_help=True)
frequency_app = typer.Typer(help="Per-number frequency limits.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log of operator decisions.", no_args_is_help=True)
app.add_typer(account_app, name="account")
app.add_typer(channel_app, name="channel")
app.add_typer(bench_app, name="bench")
app.add_typer(signature_app, name="signature")
app.add_typer(template_app, name="template")
app.add_typer(blacklist_app, name="blacklist")
app.add_typer(optout_app, name="optout")
app.add_typer(words_app, name="words")
app.add_typer(frequency_app, name="frequency")
app.add_typer(audit_app, name="audit")
console = Console()

DatabaseOption = Annotated[
    str | None, typer.Option("--database-url", help="Default: DUANXIN_DATABASE_URL or SQLite.")
]
ActorOption = Annotated[str, typer.Option("--by", help="Who decides (for the audit log).")]


def _settings(database_url: str | None = None, **overrides: Any) -> Settings:
    values = {k: v for k, v in overrides.items() if v is not None}
    if database_url:
        values["database_url"] = database_url
    return Settings(**values)


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=1)


def _with_platform(settings: Settings, action: Callable[[Platform], Awaitable[T]]) -> T:
    async def run() -> T:
        await asyncio.to_thread(migrate, settings.database_url)
        platform = Platform.open(settings)
        try:
            return await action(platform)
        finally:
            await platform.close()

    try:
        return asyncio.run(run())
    except (LookupError, ValueError) as error:
        raise _fail(str(error)) from None


def _run(coroutine: Awaitable[None]) -> None:
    try:
        import uvloop

        uvloop.run(coroutine)  # type: ignore[arg-type]
    except ImportError:
        asyncio.run(coroutine)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        pass


# ----------------------------------------------------------------- platform


@app.command()
def init(database_url: DatabaseOption = None) -> None:
    """Create or upgrade the database and print a new operator token."""
    settings = _settings(database_url)
    token = _with_platform(settings, admin.create_operator_token)
    console.print(f"database ready: {settings.database_url}")
    console.print(f"operator token (shown once): {token}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="HTTP address.")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port.")] = None,
    database_url: DatabaseOption = None,
    bus_url: Annotated[str | None, typer.Option(help="memory:// or redis://...")] = None,
    role: Annotated[str | None, typer.Option(help="all, api or worker.")] = None,
) -> None:
    """Run the platform: HTTP API, delivery workers, sweeper."""
    from duanxin.runtime import running_platform

    settings = _settings(database_url, host=host, port=port, bus_url=bus_url, role=role)

    async def run() -> None:
        async with running_platform(settings) as running:
            console.print(f"duanxin serving on {running.url} (role {settings.role})")
            await asyncio.Event().wait()

    _run(run())


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address for the API and simulators.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port.")] = 8080,
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its files.")] = Path(
        "demo-data"
    ),
) -> None:
    """Start everything with simulated carriers and print how to send a first SMS."""
    from duanxin.demo import DemoFacts, run_demo

    def announce(facts: DemoFacts) -> None:
        _print_demo(facts, data_dir)

    logging.basicConfig(level=logging.WARNING)
    _run(run_demo(host, port, data_dir, announce=announce))


def _print_demo(facts: Any, data_dir: Path) -> None:
    console.print("[bold green]duanxin demo is running[/bold green]", highlight=False)
    console.print(f"API:        {facts.url}", highlight=False)
    console.print(f"SecretId:   {facts.secret_id}", highlight=False)
    console.print(f"SecretKey:  {facts.secret_key}", highlight=False)
    console.print(f"account:    {facts.account}   password: {facts.password}", highlight=False)
    console.print(f"facts in:   {data_dir / 'demo.json'}", highlight=False)
    console.print("\nSend an SMS (signed request, as the published samples do):", highlight=False)
    console.print(
        f"  duanxin send --url {facts.url} --secret-id {facts.secret_id} "
        f"--secret-key {facts.secret_key} --account {facts.account} "
        f"--password {facts.password} 13800138000 '您的验证码是1234'",
        highlight=False,
        soft_wrap=True,
    )
    console.print("\nOr with curl:", highlight=False)
    console.print(_curl_example(facts), highlight=False, soft_wrap=True)
    console.print("\nOr in Python:", highlight=False)
    console.print(
        "  from duanxin.client import Client\n"
        f"  c = Client({facts.url!r}, {facts.secret_id!r}, {facts.secret_key!r}, "
        f"{facts.account!r}, {facts.password!r})\n"
        "  print(c.send('13800138000', '您的验证码是1234'))\n"
        "  print(c.reports())",
        highlight=False,
        soft_wrap=True,
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
        "--data-urlencode mobile=13800138000 --data-urlencode 'content=您的验证码是1234'"
    )


@app.command()
def send(
    mobiles: Annotated[str, typer.Argument(help="Comma-separated numbers.")],
    content: Annotated[str, typer.Argument(help="Text to send.")],
    url: Annotated[str, typer.Option(help="API base URL.")] = "http://127.0.0.1:8080",
    secret_id: Annotated[str, typer.Option(envvar="DUANXIN_SECRET_ID")] = "",
    secret_key: Annotated[str, typer.Option(envvar="DUANXIN_SECRET_KEY")] = "",
    account: Annotated[str, typer.Option(envvar="DUANXIN_ACCOUNT")] = "",
    password: Annotated[str, typer.Option(envvar="DUANXIN_PASSWORD")] = "",
    extno: Annotated[str | None, typer.Option(help="Extension number.")] = None,
) -> None:
    """Send an SMS through the HTTP API with a signed request; print the response."""
    from duanxin.client import AuthenticationError, Client

    if not (secret_id and secret_key and account and password):
        raise _fail("--secret-id, --secret-key, --account and --password are required")
    client = Client(url, secret_id, secret_key, account, password)
    try:
        result = client.send(mobiles, content, extno=extno)
    except AuthenticationError as error:
        raise _fail(f"signature refused: {error}") from None
    except OSError as error:
        raise _fail(f"cannot reach {url}: {error}") from None
    console.print(result, highlight=False)
    if result.status != 0:
        raise typer.Exit(code=1)


@app.command()
def simulate(
    protocol: Annotated[str, typer.Argument(help="cmpp, sgip, smgp, smpp or all.")],
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="0: any free port; with 'all', the first of four.")] = 0,
    account: Annotated[str | None, typer.Option(help="Accept only this account.")] = None,
    password: Annotated[str | None, typer.Option(help="Its password.")] = None,
    report_delay: Annotated[float, typer.Option(help="Seconds before a report.")] = 1.0,
    fail_ratio: Annotated[float, typer.Option(help="Share of reports that fail.")] = 0.0,
    tps: Annotated[float | None, typer.Option(help="Per-connection submit limit.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Print traffic.")] = False,
    sp_host: Annotated[str, typer.Option(help="SGIP: the SP's listener host.")] = "127.0.0.1",
    sp_port: Annotated[
        int | None, typer.Option(help="SGIP: the SP's listener port, for reports and MO.")
    ] = None,
) -> None:
    """Run carrier simulators in the foreground."""
    from duanxin.simulator.core import SimulatorConfig
    from duanxin.simulator.registry import PROTOCOLS, create_simulator

    names = list(PROTOCOLS) if protocol == "all" else [protocol]
    if any(name not in PROTOCOLS for name in names):
        raise _fail(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)} or all")
    if (account is None) != (password is None):
        raise _fail("--account and --password go together")
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
            )
            simulator = create_simulator(name, config)
            if name == "sgip" and sp_port is not None:
                # SGIP's gateway connects back to the SP to deliver reports and replies.
                simulator.sp_address = (sp_host, sp_port)  # type: ignore[attr-defined]
            await simulator.start()
            running.append(simulator)
            console.print(f"{name} simulator listening on {host}:{simulator.port}")
        try:
            await asyncio.Event().wait()
        finally:
            for simulator in running:
                await simulator.stop()

    try:
        _run(run())
    except OSError as error:
        raise _fail(str(error)) from None


# ------------------------------------------------------------------ accounts


@account_app.command("create")
def account_create(
    account: Annotated[str, typer.Argument()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    customer: Annotated[str, typer.Option(help="Customer name (created if new).")],
    spid: Annotated[str, typer.Option(help="SP code shown in reports.")] = "000000",
    extno: Annotated[str, typer.Option(help="The account's own extension.")] = "",
    charge_type: Annotated[ChargeType, typer.Option()] = ChargeType.PRECHARGE,
    access_type: Annotated[AccessType, typer.Option()] = AccessType.HTTP,
    default_signature: Annotated[str, typer.Option()] = "",
    database_url: DatabaseOption = None,
) -> None:
    """Create an account (and its customer and API key if the customer is new)."""

    async def action(platform: Platform) -> None:
        customer_id, key = await admin.find_or_create_customer(platform, customer, "cli")
        await admin.create_account(
            platform,
            customer_id,
            admin.AccountSpec(
                account=account,
                password=password,
                spid=spid,
                extno=extno,
                charge_type=charge_type,
                access_type=access_type,
                default_signature=default_signature,
            ),
        )
        console.print(f"account {account} created for customer {customer}")
        if key is not None:
            console.print(f"SecretId:  {key.secret_id}\nSecretKey: {key.secret_key} (shown once)")

    _with_platform(_settings(database_url), action)


@account_app.command("list")
def account_list(database_url: DatabaseOption = None) -> None:
    """List accounts."""

    async def action(platform: Platform) -> None:
        from duanxin.store.accounts import list_accounts

        async with platform.engine.connect() as conn:
            rows = await list_accounts(conn)
        table = Table("account", "spid", "state", "charge", "balance", "access")
        for a in rows:
            table.add_row(a.account, a.spid, a.state, a.charge_type, str(a.balance), a.access_type)
        console.print(table)

    _with_platform(_settings(database_url), action)


@account_app.command("show")
def account_show(account: str, database_url: DatabaseOption = None) -> None:
    """Show one account's settings (password hidden)."""

    async def action(platform: Platform) -> None:
        from duanxin.store.accounts import find_account

        async with platform.engine.connect() as conn:
            found = await find_account(conn, account)
        if found is None:
            raise LookupError(f"no account {account!r}")
        shown = {k: v for k, v in found.__class__.__dataclass_fields__.items() if k != "password"}
        console.print_json(json.dumps({k: getattr(found, k) for k in shown}, default=str))

    _with_platform(_settings(database_url), action)


@account_app.command("recharge")
def account_recharge(account: str, amount: int, database_url: DatabaseOption = None) -> None:
    """Add units to an account's balance (negative to deduct)."""
    balance = _with_platform(
        _settings(database_url), lambda p: admin.recharge(p, account, amount, actor="cli")
    )
    console.print(f"{account}: balance {balance}")


def _set_state(account: str, state: str, database_url: str | None) -> None:
    _with_platform(
        _settings(database_url),
        lambda p: admin.set_account(p, account, {"state": state}, actor="cli"),
    )
    console.print(f"{account}: {state}")


@account_app.command("disable")
def account_disable(account: str, database_url: DatabaseOption = None) -> None:
    """Disable an account (its requests get status 7)."""
    _set_state(account, "disabled", database_url)


@account_app.command("enable")
def account_enable(account: str, database_url: DatabaseOption = None) -> None:
    """Enable an account again."""
    _set_state(account, "active", database_url)


@account_app.command("set")
def account_set(
    account: str,
    settings: Annotated[list[str], typer.Argument(help="field=value pairs")],
    database_url: DatabaseOption = None,
) -> None:
    """Change account fields, e.g. `refund_on_failure=true max_concurrency=5`."""
    changes: dict[str, Any] = {}
    for pair in settings:
        name, sep, value = pair.partition("=")
        if not sep:
            raise _fail(f"expected field=value, got {pair!r}")
        changes[name] = _coerce(value)
    _with_platform(
        _settings(database_url), lambda p: admin.set_account(p, account, changes, actor="cli")
    )
    console.print(f"{account}: updated {', '.join(changes)}")


def _coerce(value: str) -> Any:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    return int(value) if value.lstrip("-").isdigit() else value


# ------------------------------------------------------------------ channels


@channel_app.command("add")
def channel_add(
    name: str,
    protocol: Annotated[str, typer.Option(help="cmpp, sgip, smgp or smpp.")],
    host: Annotated[str, typer.Option()],
    port: Annotated[int, typer.Option()],
    account: Annotated[str, typer.Option(help="SP_Id / login name / ClientID / system_id.")],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    access_code: Annotated[str, typer.Option(help="The channel's source number.")],
    service_id: Annotated[str, typer.Option()] = "",
    sp_code: Annotated[str, typer.Option()] = "",
    version: Annotated[int | None, typer.Option(help="CMPP: 32 (2.0) or 48 (3.0).")] = None,
    window: Annotated[int, typer.Option()] = 16,
    tps: Annotated[int, typer.Option(help="0: unlimited.")] = 0,
    long_report: Annotated[LongReport, typer.Option()] = LongReport.ALL,
    database_url: DatabaseOption = None,
) -> None:
    """Add a carrier channel."""
    spec = admin.ChannelSpec(
        name,
        protocol,
        host,
        port,
        account,
        password,
        access_code,
        service_id,
        sp_code,
        version,
        window,
        tps,
        long_report,
    )
    _with_platform(_settings(database_url), lambda p: admin.add_channel(p, spec, actor="cli"))
    console.print(f"channel {name} added")


@channel_app.command("list")
def channel_list(database_url: DatabaseOption = None) -> None:
    """List channels."""
    rows = _with_platform(_settings(database_url), admin.list_channels)
    table = Table("name", "protocol", "address", "access code", "window", "tps", "enabled")
    for row in rows:
        table.add_row(
            row["name"],
            row["protocol"],
            f"{row['host']}:{row['port']}",
            row["access_code"],
            str(row["window"]),
            str(row["tps"]),
            str(row["enabled"]),
        )
    console.print(table)


@channel_app.command("route")
def channel_route(
    account: str,
    carrier: Annotated[str, typer.Argument(help="cmcc, cucc or ctcc.")],
    channels: Annotated[list[str], typer.Argument(help="Channel names, most preferred first.")],
    database_url: DatabaseOption = None,
) -> None:
    """Set an account's ordered channels for one carrier."""
    _with_platform(
        _settings(database_url),
        lambda p: admin.add_route(p, account, carrier, channels, actor="cli"),
    )
    console.print(f"{account} {carrier}: {' → '.join(channels)}")


@channel_app.command("disable")
def channel_disable(name: str, database_url: DatabaseOption = None) -> None:
    """Stop using a channel."""
    _with_platform(
        _settings(database_url), lambda p: admin.set_channel_enabled(p, name, False, actor="cli")
    )


@channel_app.command("enable")
def channel_enable(name: str, database_url: DatabaseOption = None) -> None:
    """Use a channel again."""
    _with_platform(
        _settings(database_url), lambda p: admin.set_channel_enabled(p, name, True, actor="cli")
    )


# ------------------------------------------------------------------ benchmarks


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
        typer.Option(help="process, split (simulators in their own process) or inprocess."),
    ] = "process",
    url: Annotated[str | None, typer.Option(help="A running platform instead.")] = None,
    demo_json: Annotated[
        Path | None, typer.Option(help="demo.json of the platform at --url.")
    ] = None,
) -> None:
    """HTTP API: 1-number sends/s with latency, 500-number sends, end to end."""
    from duanxin.bench.http import HttpOptions, run_http

    options = HttpOptions(
        seconds, concurrency, batch_concurrency, e2e_messages, arrangement, url, demo_json
    )
    try:
        run_http(options, console)
    except (ValueError, RuntimeError) as error:
        raise _fail(str(error)) from None


@bench_app.command("policy")
def bench_policy(
    templates: Annotated[int, typer.Option(help="Approved templates of the account.")] = 1000,
    words: Annotated[int, typer.Option(help="Sensitive words on the list.")] = 10000,
    messages: Annotated[int, typer.Option(help="Messages checked.")] = 20000,
) -> None:
    """Policy check cost per message (templates required, sensitive words)."""
    from duanxin.domain.policy.bench import benchmark_policy

    micros = benchmark_policy(templates, words, messages)
    console.print(
        f"policy check: {micros:.1f} µs per message "
        f"({templates} templates, {words} words, {messages} messages)",
        highlight=False,
    )


# -------------------------------------------------------------------- policy


def _review_table(rows: list[dict[str, Any]], text_key: str) -> Table:
    columns = ["id", "account", text_key, "state", "reason", "decided by"]
    if text_key == "template":
        columns.insert(2, "kind")
    table = Table(*columns)
    for row in rows:
        cells = [str(row["id"]), row["account"], row[text_key], row["state"], row["reason"]]
        cells.append(row["decided_by"] or "")
        if text_key == "template":
            cells.insert(2, row["kind"])
        table.add_row(*cells)
    return table


@signature_app.command("add")
def signature_add(
    account: str,
    signature: Annotated[str, typer.Argument(help="【公司名】 or 公司名 (2-12 characters).")],
    approve: Annotated[bool, typer.Option(help="Approve it at once.")] = False,
    default: Annotated[bool, typer.Option(help="Make it the account's default.")] = False,
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Register a signature for an account (pending review unless --approve)."""
    from duanxin.service import policy

    async def action(platform: Platform) -> dict[str, Any]:
        row = await policy.register_signature(platform, account, signature)
        if approve:
            row = await policy.approve_signature(platform, row["id"], by)
        if default:
            await policy.set_default_signature(platform, account, row["signature"], by)
        return row

    row = _with_platform(_settings(database_url), action)
    console.print(f"signature {row['id']} {row['signature']}: {row['state']}", highlight=False)


@signature_app.command("approve")
def signature_approve(
    signature_id: int, by: ActorOption = "cli", database_url: DatabaseOption = None
) -> None:
    """Approve a pending signature."""
    from duanxin.service import policy

    row = _with_platform(
        _settings(database_url), lambda p: policy.approve_signature(p, signature_id, by)
    )
    console.print(f"signature {row['id']} {row['signature']}: approved", highlight=False)


@signature_app.command("reject")
def signature_reject(
    signature_id: int,
    reason: Annotated[str, typer.Option(help="Told to the customer.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Reject a signature, with a reason."""
    from duanxin.service import policy

    row = _with_platform(
        _settings(database_url), lambda p: policy.reject_signature(p, signature_id, reason, by)
    )
    console.print(f"signature {row['id']} {row['signature']}: rejected", highlight=False)


@signature_app.command("default")
def signature_default(
    account: str,
    signature: Annotated[str, typer.Argument(help="An approved signature; '' clears it.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Set the signature added to the account's unsigned content."""
    from duanxin.service import policy

    shown = _with_platform(
        _settings(database_url),
        lambda p: policy.set_default_signature(p, account, signature, by),
    )
    console.print(f"{account}: default signature {shown or '(none)'}", highlight=False)


@signature_app.command("list")
def signature_list(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    state: Annotated[str | None, typer.Option(help="pending, approved or rejected.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """List signatures (e.g. --state pending: the review queue)."""
    from duanxin.service import policy

    rows = _with_platform(
        _settings(database_url), lambda p: policy.list_signatures(p, account, state)
    )
    console.print(_review_table(rows, "signature"))


@template_app.command("add")
def template_add(
    account: str,
    kind: Annotated[str, typer.Argument(help="verification, notification or marketing.")],
    text: Annotated[str, typer.Argument(help="Text with ${name} or {1} variables.")],
    approve: Annotated[bool, typer.Option(help="Approve it at once.")] = False,
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Register a template for an account (refused at once if it has problems)."""
    from duanxin.service import policy

    async def action(platform: Platform) -> dict[str, Any]:
        row = await policy.register_template(platform, account, kind, text)
        if approve:
            row = await policy.approve_template(platform, row["id"], by)
        return row

    row = _with_platform(_settings(database_url), action)
    console.print(f"template {row['id']} ({row['kind']}): {row['state']}", highlight=False)


@template_app.command("approve")
def template_approve(
    template_id: int, by: ActorOption = "cli", database_url: DatabaseOption = None
) -> None:
    """Approve a pending template."""
    from duanxin.service import policy

    row = _with_platform(
        _settings(database_url), lambda p: policy.approve_template(p, template_id, by)
    )
    console.print(f"template {row['id']}: approved", highlight=False)


@template_app.command("reject")
def template_reject(
    template_id: int,
    reason: Annotated[str, typer.Option(help="Told to the customer.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Reject a template, with a reason."""
    from duanxin.service import policy

    row = _with_platform(
        _settings(database_url), lambda p: policy.reject_template(p, template_id, reason, by)
    )
    console.print(f"template {row['id']}: rejected", highlight=False)


@template_app.command("list")
def template_list(
    account: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    state: Annotated[str | None, typer.Option(help="pending, approved or rejected.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """List templates (e.g. --state pending: the review queue)."""
    from duanxin.service import policy

    rows = _with_platform(
        _settings(database_url), lambda p: policy.list_templates(p, account, state)
    )
    console.print(_review_table(rows, "template"))


def _print_import(done: Any) -> None:
    line = f"added {done.added}, already listed {done.known}, invalid {done.invalid}"
    if done.invalid_examples:
        line += f" (e.g. {', '.join(done.invalid_examples[:3])})"
    console.print(line, highlight=False)


@blacklist_app.command("add")
def blacklist_add(
    mobiles: Annotated[list[str], typer.Argument(help="Numbers.")],
    reason: Annotated[str, typer.Option()] = "",
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Put numbers on the global blacklist."""
    from duanxin.service import policy

    _print_import(
        _with_platform(
            _settings(database_url), lambda p: policy.blacklist_add(p, mobiles, by, reason)
        )
    )


@blacklist_app.command("import")
def blacklist_import(
    file: Annotated[Path, typer.Argument(help="Numbers, one per line.", exists=True)],
    reason: Annotated[str, typer.Option()] = "",
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Import a file of numbers into the global blacklist."""
    from duanxin.service import policy

    text = _read_text(file)
    _print_import(
        _with_platform(
            _settings(database_url), lambda p: policy.blacklist_import(p, text, by, reason)
        )
    )


@blacklist_app.command("remove")
def blacklist_remove(
    mobiles: Annotated[list[str], typer.Argument(help="Numbers.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Take numbers off the global blacklist."""
    from duanxin.service import policy

    removed = _with_platform(
        _settings(database_url), lambda p: policy.blacklist_remove(p, mobiles, by)
    )
    console.print(f"removed {removed}")


@blacklist_app.command("list")
def blacklist_list(
    limit: Annotated[int, typer.Option()] = 1000,
    offset: Annotated[int, typer.Option()] = 0,
    database_url: DatabaseOption = None,
) -> None:
    """List blacklisted numbers."""
    from duanxin.service import policy

    total, rows = _with_platform(
        _settings(database_url), lambda p: policy.blacklist_list(p, limit, offset)
    )
    table = Table("mobile", "reason", "since")
    for row in rows:
        table.add_row(row["mobile"], row["reason"], str(row["created_at"]))
    console.print(table)
    console.print(f"{total} numbers on the blacklist")


@optout_app.command("add")
def optout_add(
    account: str,
    mobiles: Annotated[list[str], typer.Argument(help="Numbers.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Put numbers on an account's opt-out list."""
    from duanxin.service import policy

    _print_import(
        _with_platform(
            _settings(database_url), lambda p: policy.optout_add(p, account, mobiles, by)
        )
    )


@optout_app.command("remove")
def optout_remove(
    account: str,
    mobiles: Annotated[list[str], typer.Argument(help="Numbers.")],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Take numbers off an account's opt-out list."""
    from duanxin.service import policy

    removed = _with_platform(
        _settings(database_url), lambda p: policy.optout_remove(p, account, mobiles, by)
    )
    console.print(f"removed {removed}")


@optout_app.command("list")
def optout_list(account: str, database_url: DatabaseOption = None) -> None:
    """List an account's opted-out numbers."""
    from duanxin.service import policy

    rows = _with_platform(_settings(database_url), lambda p: policy.optout_list(p, account))
    for row in rows:
        console.print(f"{row['mobile']}  {row['created_at']}", highlight=False)
    console.print(f"{len(rows)} numbers opted out of {account}")


@words_app.command("add")
def words_add(
    word: str,
    category: Annotated[str, typer.Option(help="Named in refusals.")] = "default",
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Add a sensitive word (or move it to another category)."""
    from duanxin.service import policy

    added = _with_platform(
        _settings(database_url), lambda p: policy.words_add(p, word, by, category)
    )
    console.print("added" if added else f"already listed; category now {category}")


@words_app.command("import")
def words_import(
    file: Annotated[Path, typer.Argument(help="word<TAB>category lines.", exists=True)],
    category: Annotated[str, typer.Option(help="For lines without one.")] = "default",
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Import a word file (UTF-8; '#' comments; word<TAB>category or word alone)."""
    from duanxin.service import policy

    text = _read_text(file)
    added = _with_platform(
        _settings(database_url), lambda p: policy.words_import(p, text, by, category)
    )
    console.print(f"added {added} new words")


@words_app.command("remove")
def words_remove(
    words: Annotated[list[str], typer.Argument()],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Remove sensitive words."""
    from duanxin.service import policy

    removed = _with_platform(_settings(database_url), lambda p: policy.words_remove(p, words, by))
    console.print(f"removed {removed}")


@words_app.command("list")
def words_list(
    show_words: Annotated[bool, typer.Option("--words", help="Print the words too.")] = False,
    category: Annotated[str | None, typer.Option(help="Only this category.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Words per category (the words themselves with --words)."""
    from duanxin.service import policy

    async def action(platform: Platform) -> tuple[dict[str, int], list[dict[str, str]]]:
        categories = await policy.words_categories(platform)
        listed = await policy.words_list(platform, category) if show_words else []
        return categories, listed

    categories, listed = _with_platform(_settings(database_url), action)
    table = Table("category", "words")
    for name, count in categories.items():
        if category is None or name == category:
            table.add_row(name, str(count))
    console.print(table)
    for entry in listed:
        typer.echo(f"{entry['word']}\t{entry['category']}")  # the word-file format


@frequency_app.command("set")
def frequency_set(
    account: str,
    scope: Annotated[str, typer.Argument(help="verification, notification, marketing, platform.")],
    limits: Annotated[
        str, typer.Argument(help="e.g. '1/min, 5/hour, 10/day'; 'none': no limit; 'default'.")
    ],
    by: ActorOption = "cli",
    database_url: DatabaseOption = None,
) -> None:
    """Override an account's per-number limits for one kind (or the platform-wide one)."""
    from duanxin.service import policy

    value = {"default": None, "none": ""}.get(limits.strip().lower(), limits)
    shown = _with_platform(
        _settings(database_url), lambda p: policy.frequency_set(p, account, scope, value, by)
    )
    _print_frequency(account, shown)


@frequency_app.command("show")
def frequency_show(account: str, database_url: DatabaseOption = None) -> None:
    """The per-number limits in force for an account."""
    from duanxin.service import policy

    shown = _with_platform(_settings(database_url), lambda p: policy.frequency_show(p, account))
    _print_frequency(account, shown)


def _print_frequency(account: str, shown: dict[str, dict[str, Any]]) -> None:
    table = Table("scope", "limits", "set by operator")
    for scope, row in shown.items():
        table.add_row(scope, row["limits"] or "none", "yes" if row["overridden"] else "default")
    console.print(f"{account}:")
    console.print(table)


@audit_app.command("list")
def audit_list(
    limit: Annotated[int, typer.Option()] = 50,
    actor: Annotated[str | None, typer.Option(help="Only this operator.")] = None,
    action: Annotated[str | None, typer.Option(help="Action prefix, e.g. signature.")] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Who did what, when: the latest operator decisions first."""
    from duanxin.service import policy

    rows = _with_platform(
        _settings(database_url), lambda p: policy.audit_list(p, limit, actor, action)
    )
    table = Table("when", "who", "action", "subject", "detail")
    for row in rows:
        detail = json.dumps(row["detail"], ensure_ascii=False, default=str)
        table.add_row(str(row["created_at"]), row["actor"], row["action"], row["subject"], detail)
    console.print(table)


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise _fail(f"cannot read {file}: {error}") from None


@app.command("number-override")
def number_override(
    mobile: Annotated[str, typer.Argument(help="11-digit number that moved network.")],
    carrier: Annotated[str, typer.Argument(help="cmcc, cucc or ctcc; 'none' removes it.")],
    database_url: DatabaseOption = None,
) -> None:
    """Record a number that moved to another network (携号转网)."""
    _with_platform(
        _settings(database_url),
        lambda p: admin.set_number_override(p, mobile, None if carrier == "none" else carrier),
    )
    console.print(f"{mobile}: {carrier}")


def main() -> None:
    """Entry point of the ``duanxin`` console script."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
