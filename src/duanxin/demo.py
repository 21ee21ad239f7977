"""``duanxin demo``: the whole platform with simulated carriers.

The simulators, the HTTP API and the customer CMPP/SMPP servers run in this process;
delivery runs here too, or (``duanxin demo`` on a machine with more than one core, the
``delivery_process`` setting) in a child process of its own.

A fresh SQLite file, one simulator per Chinese network (CMPP for China Mobile, SGIP for
China Unicom, SMGP for China Telecom), channels and routes to them, and a demo customer
whose keys are printed with a ready-to-run signed request.

The data directory gets ``duanxin.toml`` (the database, the encryption key and a
``[client]`` table with the demo's API credentials: ``export DUANXIN_CONFIG=...`` makes
every later ``duanxin`` command use the demo) and ``demo.json`` (the same facts, and the
operator token). With ``keep`` a second start reuses both instead of starting afresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from duanxin.api.bodies import read_body
from duanxin.api.params import ParamError, parse_params
from duanxin.config import Settings
from duanxin.domain.accounts import AccessType
from duanxin.domain.billing import ChargeType
from duanxin.domain.numbers import Carrier, detect_carrier, normalise_mobile
from duanxin.runtime import RunningPlatform, free_port, running_platform, stop_signals
from duanxin.service import admin, console_auth, review
from duanxin.service.platform import Platform
from duanxin.simulator.core import SimulatorConfig, SimulatorServer
from duanxin.simulator.registry import create_simulator
from duanxin.store.crypto import generate_key
from duanxin.store.engine import migrate

__all__ = [
    "CarrierEndpoint",
    "DemoFacts",
    "DemoFiles",
    "demo_credentials",
    "demo_stack",
    "provision",
    "provision_operator",
    "run_demo",
    "start_simulators",
]

DEMO_SIGNATURE = "【duanxin】"
SPID = "922011"
ACCESS_CODES = {"cmpp": "106901234", "sgip": "106551234", "smgp": "106591234"}
NETWORKS = {"cmpp": Carrier.MOBILE, "sgip": Carrier.UNICOM, "smgp": Carrier.TELECOM}
REPORT_DELAY = 1.0
DEMO_PUSH_NETWORKS = ("127.0.0.0/8", "::1/128")  # the demo pushes to receivers on this machine
CMPP_ACCESS_PORT, SMPP_ACCESS_PORT = 7890, 2775  # the settings' defaults, when free
ANY_FREE_PORT = -1  # an access port setting: let the system pick
DEMO_MO_BODY = 64 * 1024  # one played reply
DEMO_OPERATOR = "admin"


@dataclass(frozen=True, slots=True)
class CarrierEndpoint:
    """Where one simulated (or real) gateway answers, and how to log in to it."""

    host: str
    port: int
    account: str
    password: str
    sp_port: int | None = None  # SGIP: our listener, which the gateway connects back to

    def as_json(self, protocol: str) -> dict[str, Any]:
        return {
            "host": self.host,
            "port": self.port,
            "account": self.account,
            "password": self.password,
            "access_code": ACCESS_CODES[protocol],
        }


def demo_credentials(protocol: str) -> tuple[str, str]:
    """The login a demo gateway accepts: CMPP's SP_Id is the demo SP code."""
    account = SPID if protocol == "cmpp" else f"{protocol}sp"
    return account, admin.random_token(12)


@dataclass
class DemoFacts:
    url: str
    secret_id: str
    secret_key: str
    account: str
    password: str
    spid: str
    access_code: str
    simulators: dict[str, dict[str, Any]]
    operator_token: str = ""
    config_file: str = ""  # the duanxin.toml the demo wrote ("" when given settings)
    operator_user: str = ""
    operator_password: str = ""

    @property
    def console_url(self) -> str:
        """The operator's sign-in page of the web console."""
        return f"{self.url}/console/login"

    @property
    def customer_console_url(self) -> str:
        """The customers' sign-in page (the demo account and password sign in there)."""
        return f"{self.url}/console/my/login"

    # The customer CMPP/SMPP servers: {"cmpp": {"host", "port"}, "smpp": {...}}.
    access: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def access_snippet(self) -> str:
        """A ready-to-run smpplib session against the demo's SMPP server (double-quoted
        literals only, so that it pastes inside single quotes in a shell)."""
        smpp = self.access.get("smpp")
        if smpp is None:
            return ""

        def q(text: str) -> str:
            return json.dumps(text, ensure_ascii=False)

        return (
            "import smpplib.client, smpplib.consts\n"
            f"c = smpplib.client.Client({q(smpp['host'])}, {smpp['port']})\n"
            'c.set_message_received_handler(lambda pdu: print("got", pdu.short_message))\n'
            "c.connect()\n"
            f"c.bind_transceiver(system_id={q(self.account)}, password={q(self.password)})\n"
            f"c.send_message(destination_addr={q('13700137000')}, "
            f"short_message={q('【duanxin】您的验证码是1234')}.encode({q('utf-16-be')}), "
            "data_coding=smpplib.consts.SMPP_ENCODING_ISO10646, registered_delivery=1)\n"
            "c.listen()"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "secret_id": self.secret_id,
            "secret_key": self.secret_key,
            "account": self.account,
            "password": self.password,
            "spid": self.spid,
            "access_code": self.access_code,
            "operator_token": self.operator_token,
            "config_file": self.config_file,
            "simulators": self.simulators,
            "console_url": self.console_url,
            "customer_console_url": self.customer_console_url,
            "operator_user": self.operator_user,
            "operator_password": self.operator_password,
            "access": self.access,
        }


@dataclass(frozen=True, slots=True)
class DemoFiles:
    """The demo's data directory: its database, settings file and facts file."""

    data_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "duanxin.db"

    @property
    def config(self) -> Path:
        return self.data_dir / "duanxin.toml"

    @property
    def facts(self) -> Path:
        return self.data_dir / "demo.json"

    def kept(self) -> dict[str, Any] | None:
        """The facts of the previous start, when its files are all there."""
        if not (self.database.exists() and self.config.exists() and self.facts.exists()):
            return None
        try:
            facts = json.loads(self.facts.read_text("utf-8"))
        except (OSError, ValueError):
            return None
        return facts if isinstance(facts, dict) else None

    def wipe(self) -> None:
        for path in (self.database, self.config, self.facts):
            for suffix in ("", "-wal", "-shm") if path == self.database else ("",):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

    def encryption_key(self) -> str:
        """The key of the settings file (kept), else a new one."""
        if self.config.exists():
            import tomllib

            key = tomllib.loads(self.config.read_text("utf-8")).get("encryption_key")
            if isinstance(key, str) and key:
                return key
        return generate_key()

    def write(self, settings: Settings, facts: DemoFacts) -> None:
        client = {
            "url": facts.url,
            "secret_id": facts.secret_id,
            "secret_key": facts.secret_key,
            "account": facts.account,
            "password": facts.password,
        }
        lines = [
            "# Written by `duanxin demo`: export DUANXIN_CONFIG=<this file> to use the demo.",
            f"database_url = {_toml(settings.database_url)}",
            f"encryption_key = {_toml(settings.encryption_key or '')}",
            "",
            "[client]  # what duanxin send|balance|reports|replies sign their requests with",
            *(f"{k} = {_toml(v)}" for k, v in client.items()),
        ]
        self.config.write_text("\n".join(lines) + "\n", "utf-8")
        self.config.chmod(0o600)
        self.facts.write_text(json.dumps(facts.as_json(), indent=2), "utf-8")
        self.facts.chmod(0o600)


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


async def start_simulators(
    host: str,
    report_delay: float,
    *,
    sgip_listen_port: int = 0,
    like: SimulatorConfig | None = None,
    logins: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[dict[str, SimulatorServer], dict[str, CarrierEndpoint]]:
    """One simulator per network in this process, and the endpoints to provision for them.

    SGIP's gateway connects back to our listener: give its port when the platform runs in
    another process; with 0 the listener takes any free port, and :func:`demo_stack` tells
    the simulator which once the platform is up. ``like``: the simulators' other settings
    (fault profile, seed, TPS ...); ``logins``: the account and password each gateway
    accepts (default: new ones).
    """
    simulators: dict[str, SimulatorServer] = {}
    endpoints: dict[str, CarrierEndpoint] = {}
    for protocol in ACCESS_CODES:
        account, password = (logins or {}).get(protocol) or demo_credentials(protocol)
        config = dataclasses.replace(
            like or SimulatorConfig(),
            host=host,
            port=0,
            account=account,
            password=password,
            report_delay=report_delay,
        )
        simulator = create_simulator(protocol, config)
        sp_port = None
        if protocol == "sgip":
            sp_port = sgip_listen_port
            if sgip_listen_port:
                simulator.sp_address = (host, sgip_listen_port)  # type: ignore[attr-defined]
        await simulator.start()
        simulators[protocol] = simulator
        endpoints[protocol] = CarrierEndpoint(host, simulator.port, account, password, sp_port)
    return simulators, endpoints


async def provision(
    platform: Platform, endpoints: Mapping[str, CarrierEndpoint]
) -> tuple[admin.ApiKey, str, str]:
    """The demo customer, its account, and a channel and route per network."""
    customer = await admin.create_customer(platform, "demo")
    key = await admin.issue_api_key(platform, customer)
    # 8 characters: the longest password SMPP 3.4 can carry (bind password: C-Octet 9).
    account, password = "demo", admin.random_token(8)
    await admin.create_account(
        platform,
        customer,
        admin.AccountSpec(
            account=account,
            password=password,
            spid=SPID,
            charge_type=ChargeType.POSTCHARGE,
            access_type=AccessType.ALL,  # HTTP, and the customer CMPP and SMPP servers
        ),
    )
    # SPEC 6: the signature registered by the customer, approved, and set as the default.
    registered = await review.register_signature(platform, account, DEMO_SIGNATURE)
    await review.approve_signature(platform, registered["id"], "demo")
    await review.set_default_signature(platform, account, DEMO_SIGNATURE, "demo")
    for protocol, endpoint in endpoints.items():
        settings: dict[str, Any] = {"response_timeout": 10.0}
        if endpoint.sp_port is not None:
            settings.update(listen_host=endpoint.host, listen_port=endpoint.sp_port)
        await admin.add_channel(
            platform,
            admin.ChannelSpec(
                name=f"demo-{protocol}",
                protocol=protocol,
                host=endpoint.host,
                port=endpoint.port,
                account=endpoint.account,
                password=endpoint.password,
                access_code=ACCESS_CODES[protocol],
                service_id="DEMO",
                sp_code=SPID[:5] if protocol == "sgip" else SPID,  # SGIP CorpId: 5 digits
                settings=settings,
            ),
        )
        await admin.add_route(platform, account, NETWORKS[protocol].value, [f"demo-{protocol}"])
    return key, account, password


async def provision_operator(platform: Platform) -> tuple[str, str]:
    """The demo's operator user of the web console, with a fresh password."""
    password = admin.random_token(16)
    await console_auth.add_operator(platform, DEMO_OPERATOR, password, "demo")
    return DEMO_OPERATOR, password


def _connect_sgip_back(running: RunningPlatform, simulators: Mapping[str, SimulatorServer]) -> None:
    """Point an in-process SGIP simulator at the port our SGIP listener actually bound."""
    simulator = simulators.get("sgip")
    if simulator is None or running.worker is None:
        return
    for channel in running.worker.pool.channels.values():
        if channel.protocol == "sgip":
            port = channel.clients[0].listen_port  # type: ignore[attr-defined]
            simulator.sp_address = ("127.0.0.1", port)  # type: ignore[attr-defined]


def _mo_route(simulators: Mapping[str, SimulatorServer]) -> Route:
    by_network = {NETWORKS[p]: sim for p, sim in simulators.items()}

    async def inject(request: Request) -> Response:
        try:
            body = await read_body(request, DEMO_MO_BODY)
            form = parse_params(body, request.headers.get("content-type"))
        except ParamError as error:
            return JSONResponse({"status": 1, "msg": error.msg})
        mobile = normalise_mobile(form.get("mobile", ""))
        to, content = form.get("to", ""), form.get("content", "")
        carrier = detect_carrier(mobile) if mobile else None
        if mobile is None or carrier is None or not to.isdigit() or not content:
            return JSONResponse({"status": 1, "msg": "need mobile, to (digits) and content"})
        simulator = by_network.get(carrier.routes_as())
        if simulator is None:
            return JSONResponse({"status": 100, "msg": "no simulator for this network"})
        await simulator.inject_mo(mobile, to, content)
        return JSONResponse({"status": 0, "msg": "ok"})

    return Route("/demo/mo", inject, methods=["POST"])


@contextlib.asynccontextmanager
async def demo_stack(
    host: str,
    port: int,
    data_dir: Path,
    *,
    report_delay: float = REPORT_DELAY,
    settings: Settings | None = None,
    carriers: Mapping[str, CarrierEndpoint] | None = None,
    simulators_like: SimulatorConfig | None = None,
    access_ports: tuple[int, int] = (0, 0),
    keep: bool = False,
    delivery_process: bool | None = None,
) -> AsyncIterator[tuple[DemoFacts, RunningPlatform, dict[str, SimulatorServer]]]:
    """The demo's parts, running: simulators, a provisioned store, the platform.

    With ``carriers``, the gateways already run elsewhere (e.g. ``duanxin simulate`` in
    another process) and no simulator is started here; ``simulators_like`` gives the other
    settings of those started here (fault profile, seed ...). Without ``settings`` the
    demo keeps its own files in ``data_dir`` (:class:`DemoFiles`), fresh unless ``keep``.
    ``access_ports``: the customer CMPP and SMPP servers' ports (0: any free one) when
    ``settings`` is not given. ``delivery_process``: delivery runs in a child process of its
    own (the setting of that name; the simulators stay in this one), when ``settings`` is
    not given (None: as the environment or the setting's default says).
    """
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    files = DemoFiles(data_dir)
    kept = files.kept() if keep and settings is None else None
    own_files = settings is None
    if settings is None:
        key = files.encryption_key() if kept else generate_key()
        if kept is None:
            files.wipe()
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{files.database}",
            host=host,
            port=port,
            encryption_key=key,
            push_allowed_networks=list(DEMO_PUSH_NETWORKS),
            access_cmpp_port=access_ports[0] or ANY_FREE_PORT,
            access_smpp_port=access_ports[1] or ANY_FREE_PORT,
            log_level="warning",  # what the demo's delivery process logs: as this one
        )
        if delivery_process is not None:
            settings = settings.model_copy(update={"delivery_process": delivery_process})
    await asyncio.to_thread(migrate, settings.database_url, settings.encryption_key)
    if carriers is None:
        logins = _kept_logins(kept)
        # Our SGIP listener in another process: its port known up front, for the simulator.
        sgip_port = free_port(host) if settings.delivery_process else 0
        simulators, endpoints = await start_simulators(
            host, report_delay, like=simulators_like, logins=logins, sgip_listen_port=sgip_port
        )
    else:
        simulators, endpoints = {}, dict(carriers)
    try:
        setup = Platform.open(settings)
        try:
            if kept is None:
                key_pair, account, password = await provision(setup, endpoints)
                token = await admin.create_operator_token(setup, "demo")
            else:
                await _repoint_channels(setup, endpoints)
                key_pair = admin.ApiKey(kept["secret_id"], kept["secret_key"])
                account, password = kept["account"], kept["password"]
                token = str(kept.get("operator_token", ""))
            if kept is not None and kept.get("operator_user"):
                operator_user = str(kept["operator_user"])
                operator_password = str(kept.get("operator_password", ""))
            else:
                operator_user, operator_password = await provision_operator(setup)
        finally:
            await setup.close()
        async with running_platform(settings, [_mo_route(simulators)]) as running:
            facts = DemoFacts(
                url=running.url,
                secret_id=key_pair.secret_id,
                secret_key=key_pair.secret_key,
                account=account,
                password=password,
                spid=SPID,
                access_code=ACCESS_CODES["cmpp"],
                simulators={p: e.as_json(p) for p, e in endpoints.items()},
                access=running.access.addresses() if running.access is not None else {},
                operator_token=token,
                config_file=str(files.config) if own_files else "",
                operator_user=operator_user,
                operator_password=operator_password,
            )
            if own_files:
                files.write(settings, facts)
            else:
                files.facts.write_text(json.dumps(facts.as_json(), indent=2), "utf-8")
            _connect_sgip_back(running, simulators)
            yield facts, running, simulators
    finally:
        for simulator in simulators.values():
            await simulator.stop()


def _free_or_any(host: str, port: int) -> int:
    """``port`` when nothing listens there, else 0 (any free port)."""
    with contextlib.suppress(OSError), socket.socket() as probe:
        probe.bind((host, port))
        return port
    return 0


def _kept_logins(kept: Mapping[str, Any] | None) -> dict[str, tuple[str, str]] | None:
    if not kept or not isinstance(kept.get("simulators"), dict):
        return None
    return {
        protocol: (str(e["account"]), str(e["password"]))
        for protocol, e in kept["simulators"].items()
        if isinstance(e, dict) and "account" in e and "password" in e
    }


async def _repoint_channels(platform: Platform, endpoints: Mapping[str, CarrierEndpoint]) -> None:
    """A kept demo's channels, pointed at this start's simulators (new ports)."""
    for protocol, endpoint in endpoints.items():
        changes: dict[str, Any] = {
            "host": endpoint.host,
            "port": endpoint.port,
            "account": endpoint.account,
            "password": endpoint.password,
        }
        if endpoint.sp_port is not None:
            changes["settings"] = {"listen_host": endpoint.host, "listen_port": endpoint.sp_port}
        await admin.edit_channel(platform, f"demo-{protocol}", changes, actor="demo")


async def run_demo(
    host: str,
    port: int,
    data_dir: Path,
    *,
    announce: Callable[[DemoFacts], None],
    keep: bool = False,
) -> None:
    """Start the demo, call ``announce`` once the API answers, run until interrupted."""
    from duanxin.config import load_settings
    from duanxin.delivery.process import with_delivery_default

    ports = (_free_or_any(host, CMPP_ACCESS_PORT), _free_or_any(host, SMPP_ACCESS_PORT))
    delivery = with_delivery_default(load_settings()).delivery_process
    with stop_signals() as stop:
        async with demo_stack(
            host, port, data_dir, keep=keep, access_ports=ports, delivery_process=delivery
        ) as (facts, running, _sims):
            announce(facts)
            await running.until_stopped(stop)
