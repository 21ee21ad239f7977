"""``duanxin demo``: the whole platform in one process, with simulated carriers.

A fresh SQLite file, one simulator per Chinese network (CMPP for China Mobile, SGIP for
China Unicom, SMGP for China Telecom), channels and routes to them, and a demo customer
whose keys are printed with a ready-to-run signed request.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
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
from duanxin.domain.billing import ChargeType
from duanxin.domain.numbers import Carrier, detect_carrier, normalise_mobile
from duanxin.runtime import RunningPlatform, running_platform, stop_signals
from duanxin.service import admin, console_auth, review
from duanxin.service.platform import Platform
from duanxin.simulator.core import SimulatorConfig, SimulatorServer
from duanxin.simulator.registry import create_simulator
from duanxin.store.engine import migrate

__all__ = [
    "CarrierEndpoint",
    "DemoFacts",
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

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "secret_id": self.secret_id,
            "secret_key": self.secret_key,
            "account": self.account,
            "password": self.password,
            "spid": self.spid,
            "access_code": self.access_code,
            "simulators": self.simulators,
            "console_url": self.console_url,
            "customer_console_url": self.customer_console_url,
            "operator_user": self.operator_user,
            "operator_password": self.operator_password,
        }


async def start_simulators(
    host: str,
    report_delay: float,
    *,
    sgip_listen_port: int = 0,
    like: SimulatorConfig | None = None,
) -> tuple[dict[str, SimulatorServer], dict[str, CarrierEndpoint]]:
    """One simulator per network in this process, and the endpoints to provision for them.

    SGIP's gateway connects back to our listener: give its port when the platform runs in
    another process; with 0 the listener takes any free port, and :func:`demo_stack` tells
    the simulator which once the platform is up. ``like``: the simulators' other settings
    (fault profile, seed, TPS ...).
    """
    simulators: dict[str, SimulatorServer] = {}
    endpoints: dict[str, CarrierEndpoint] = {}
    for protocol in ACCESS_CODES:
        account, password = demo_credentials(protocol)
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
    account, password = "demo", admin.random_token(16)
    await admin.create_account(
        platform,
        customer,
        admin.AccountSpec(
            account=account,
            password=password,
            spid=SPID,
            charge_type=ChargeType.POSTCHARGE,
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
) -> AsyncIterator[tuple[DemoFacts, RunningPlatform, dict[str, SimulatorServer]]]:
    """The demo's parts, running: simulators, a provisioned store, the platform.

    With ``carriers``, the gateways already run elsewhere (e.g. ``duanxin simulate`` in
    another process) and no simulator is started here; ``simulators_like`` gives the other
    settings of those started here (fault profile, seed ...).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    if settings is None:
        database = data_dir / "duanxin.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
        settings = Settings(database_url=f"sqlite+aiosqlite:///{database}", host=host, port=port)
    await asyncio.to_thread(migrate, settings.database_url)
    if carriers is None:
        simulators, endpoints = await start_simulators(host, report_delay, like=simulators_like)
    else:
        simulators, endpoints = {}, dict(carriers)
    try:
        setup = Platform.open(settings)
        try:
            key, account, password = await provision(setup, endpoints)
            operator_user, operator_password = await provision_operator(setup)
        finally:
            await setup.close()
        async with running_platform(settings, [_mo_route(simulators)]) as running:
            facts = DemoFacts(
                url=running.url,
                secret_id=key.secret_id,
                secret_key=key.secret_key,
                account=account,
                password=password,
                spid=SPID,
                access_code=ACCESS_CODES["cmpp"],
                simulators={p: e.as_json(p) for p, e in endpoints.items()},
                operator_user=operator_user,
                operator_password=operator_password,
            )
            (data_dir / "demo.json").write_text(json.dumps(facts.as_json(), indent=2))
            _connect_sgip_back(running, simulators)
            yield facts, running, simulators
    finally:
        for simulator in simulators.values():
            await simulator.stop()


async def run_demo(
    host: str,
    port: int,
    data_dir: Path,
    *,
    announce: Callable[[DemoFacts], None],
) -> None:
    """Start the demo, call ``announce`` once the API answers, run until interrupted."""
    with stop_signals() as stop:
        async with demo_stack(host, port, data_dir) as (facts, _running, _simulators):
            announce(facts)
            await stop.wait()
