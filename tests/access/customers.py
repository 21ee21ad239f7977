"""Customers of the access servers, built on the project's own protocol stack (client role).

Each keeps every DELIVER / deliver_sm it receives and answers it OK, unless told to stay
silent (a customer that stops answering, to test releases and redelivery).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from duanxin.protocols.cmpp.auth import authenticator_ismg, connect_request
from duanxin.protocols.cmpp.dialect import CmppDialect
from duanxin.protocols.cmpp.pdu import (
    CmppConnectResp,
    CmppDeliver,
    CmppDeliverResp,
    CmppSubmit,
    CmppSubmitResp,
    CmppVersion,
    Pdu,
)
from duanxin.protocols.cmpp.report import CmppStatusReport
from duanxin.protocols.core.aio import SessionProtocol, connect
from duanxin.protocols.core.session import SessionConfig
from duanxin.protocols.core.state import Role
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.dialect import SmppDialect

CONFIG = SessionConfig(heartbeat_interval=None, response_timeout=10.0, max_attempts=1)


@dataclass
class CmppCustomer:
    """A CMPP SP client logged in (or refused) on the customer server."""

    session: SessionProtocol[Pdu]
    login: CmppConnectResp
    delivers: list[CmppDeliver] = field(default_factory=list)
    answering: bool = True
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def reports(self) -> list[CmppStatusReport]:
        return [
            CmppStatusReport.decode(d.msg_content) for d in self.delivers if d.registered_delivery
        ]

    @property
    def replies(self) -> list[CmppDeliver]:
        return [d for d in self.delivers if not d.registered_delivery]

    async def submit(
        self, mobiles: Sequence[str], content: bytes, **fields: int | str
    ) -> CmppSubmitResp:
        version = self.session.dialect.version  # type: ignore[attr-defined]
        answer = await self.session.request(
            CmppSubmit(
                version=version,
                dest_terminal_ids=tuple(mobiles),
                msg_content=content,
                registered_delivery=1,
                **fields,
            )
        )
        assert isinstance(answer, CmppSubmitResp)
        return answer

    async def close(self) -> None:
        await self.session.unbind(timeout=2.0)


async def cmpp_customer(
    host: str, port: int, account: str, password: str, version: int = CmppVersion.V30
) -> CmppCustomer:
    holder: list[CmppCustomer] = []

    def handle(session: SessionProtocol[Pdu], pdu: Pdu) -> Pdu | None:
        if isinstance(pdu, CmppDeliver):
            customer = holder[0]
            customer.delivers.append(pdu)
            customer.arrived.set()
            if not customer.answering:
                return None
            return CmppDeliverResp(
                sequence_id=pdu.sequence_id, version=pdu.version, msg_id=pdu.msg_id, result=0
            )
        return None

    session = await connect(host, port, CmppDialect(version), handle, CONFIG)
    request = connect_request(account, password, datetime.now(), version)
    login = await session.request(request)
    assert isinstance(login, CmppConnectResp)
    if login.status == 0:  # the server proves it knows the password too
        expected = authenticator_ismg(0, request.authenticator_source, password, version)
        assert login.authenticator_ismg == expected
    customer = CmppCustomer(session, login)
    holder.append(customer)
    return customer


@dataclass
class SmppCustomer:
    session: SessionProtocol[p.Pdu]
    bind: p.Pdu
    delivers: list[p.DeliverSm] = field(default_factory=list)
    answering: bool = True

    async def submit(self, destination: str, message: bytes, **fields: object) -> p.SubmitSmResp:
        answer = await self.session.request(
            p.SubmitSm(
                destination_addr=destination, short_message=message, registered_delivery=1, **fields
            )
        )
        assert isinstance(answer, p.SubmitSmResp)
        return answer

    async def close(self) -> None:
        await self.session.unbind(timeout=2.0)


async def smpp_customer(
    host: str, port: int, account: str, password: str, bind: type[p.Bind] = p.BindTransceiver
) -> SmppCustomer:
    holder: list[SmppCustomer] = []

    def handle(session: SessionProtocol[p.Pdu], pdu: p.Pdu) -> p.Pdu | None:
        if isinstance(pdu, p.DeliverSm):
            customer = holder[0]
            customer.delivers.append(pdu)
            if not customer.answering:
                return None
            return p.DeliverSmResp(sequence_number=pdu.sequence_number)
        return None

    session = await connect(host, port, SmppDialect(Role.CLIENT), handle, CONFIG)
    answer = await session.request(bind(system_id=account, password=password))
    customer = SmppCustomer(session, answer)
    holder.append(customer)
    return customer
