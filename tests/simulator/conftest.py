"""A simulated gateway of each protocol with the project's own carrier client logged in to it.

``gateway(protocol, faults="throttle:0.5", **config)`` starts the simulator (real socket on
port 0) and returns a :class:`Gateway`; ``await gw.connect()`` logs a client in (a second
call logs in another one, e.g. after ``await gw.close_client()``). Every request PDU the
client receives from the gateway is recorded raw in ``gw.received`` (before the client's
adapter interprets it), and what the adapter hands on lands in ``gw.inbox``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from duanxin.protocols.carrier import (
    CarrierSessionClient,
    ChannelSettings,
    Inbound,
    OutboundMessage,
    SubmitResult,
)
from duanxin.protocols.cmpp.client import CmppAdapter
from duanxin.protocols.core.sequence import Backoff
from duanxin.protocols.sgip.client import SgipClient
from duanxin.protocols.smgp.client import SmgpAdapter
from duanxin.protocols.smpp.client import SmppAdapter
from duanxin.simulator.core import SimulatorConfig
from duanxin.simulator.faults import parse_faults
from duanxin.simulator.registry import PROTOCOLS, create_simulator
from tests.conftest import until

WAIT = 5.0
HANDSET = "13800138000"
#: Per protocol: the account the client logs in with and the access code it sends from.
ACCOUNTS = {"cmpp": "901234", "sgip": "spuser", "smgp": "10691234", "smpp": "esme"}
ACCESS_CODES = {"cmpp": "1065712345", "sgip": "10655012345", "smgp": "10691234", "smpp": "1069"}
SECRET = "secret"
LONG_TEXT = "长短信测试" * 30  # 150 UCS-2 characters: three segments


class Inbox:
    """What the client hands on (reports and MO), awaitable one at a time."""

    def __init__(self) -> None:
        self.items: list[Inbound] = []
        self._arrived = asyncio.Event()

    def __call__(self, item: Inbound) -> None:
        self.items.append(item)
        self._arrived.set()

    async def wait_for(self, count: int, timeout: float = WAIT) -> list[Inbound]:
        async with asyncio.timeout(timeout):
            while len(self.items) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.items


@dataclass
class Gateway:
    """One simulator and the clients logged in to it (see the module docstring)."""

    protocol: str
    simulator: Any
    inbox: Inbox = field(default_factory=Inbox)
    received: list[Any] = field(default_factory=list)  # raw PDUs the gateway sent to us
    clients: list[Any] = field(default_factory=list)
    #: When set, called as each gateway request arrives; results in ``observed``.
    probe: Callable[[], Any] | None = None
    observed: list[Any] = field(default_factory=list)

    @property
    def client(self) -> Any:
        return self.clients[-1]

    @property
    def behaviour(self) -> Any:
        return self.simulator.behaviour

    def settings(self, **overrides: Any) -> ChannelSettings:
        settings = ChannelSettings(
            host="127.0.0.1",
            port=self.simulator.port,
            account=ACCOUNTS[self.protocol],
            password=SECRET,
            access_code=ACCESS_CODES[self.protocol],
            service_id="MTEST",
            sp_code="12345",
            response_timeout=WAIT,
            heartbeat_interval=None,
        )
        return replace(settings, **overrides)

    async def connect(self, *, wait: bool = True, **overrides: Any) -> Any:
        settings = self.settings(**overrides)
        backoff = Backoff(initial=0.01, maximum=0.05)
        client: Any
        if self.protocol == "sgip":
            client = SgipClient(settings, self.inbox, backoff=backoff)
        else:
            adapters = {"cmpp": CmppAdapter, "smgp": SmgpAdapter, "smpp": SmppAdapter}
            adapter = adapters[self.protocol](settings)
            client = CarrierSessionClient(adapter, settings, self.inbox, backoff=backoff)
        self._record(client.adapter)
        await client.start()
        if self.protocol == "sgip":
            self.simulator.sp_address = ("127.0.0.1", client.listen_port)
        self.clients.append(client)
        if wait:
            assert await client.wait_up(WAIT), client.last_error
        return client

    def _record(self, adapter: Any) -> None:
        inbound = adapter.inbound

        def recording(request: Any) -> Any:
            self.received.append(request)
            if self.probe is not None:
                self.observed.append(self.probe())
            return inbound(request)

        adapter.inbound = recording

    async def close_client(self) -> None:
        await self.clients.pop().close()

    async def settle(self) -> None:
        """Round-trip a marker MO: whatever the gateway wrote before it has been read (and
        any duplicate due by now would have come first). The marker leaves the inbox."""
        marker = f"marker {len(self.inbox.items)}"
        await self.simulator.inject_mo(HANDSET, ACCESS_CODES[self.protocol] + "99", marker)
        await until(lambda: any(getattr(i, "text", None) == marker for i in self.inbox.items))
        self.inbox.items = [i for i in self.inbox.items if getattr(i, "text", None) != marker]

    async def submit(self, text: str = "你好", *, reference: int = 0) -> SubmitResult:
        message = OutboundMessage(
            source=ACCESS_CODES[self.protocol] + "01",
            destination=HANDSET,
            text=text,
            reference=reference,
        )
        result: SubmitResult = await self.client.submit(message)
        return result


GatewayFactory = Callable[..., Awaitable[Gateway]]


@pytest.fixture
async def gateway() -> AsyncIterator[GatewayFactory]:
    started: list[Gateway] = []

    async def start(protocol: str, faults: str = "", **config: Any) -> Gateway:
        assert protocol in PROTOCOLS
        options: dict[str, Any] = {
            "account": ACCOUNTS[protocol],
            "password": SECRET,
            "report_delay": 0.01,
            "seed": 7,
            "faults": parse_faults(faults),
        }
        options.update(config)
        simulator = create_simulator(protocol, SimulatorConfig(**options))
        await simulator.start()
        gw = Gateway(protocol, simulator)
        started.append(gw)
        return gw

    yield start
    for gw in started:
        for client in gw.clients:
            await client.close()
        await gw.simulator.stop()
