"""A simulated SMSC speaking SMPP 3.4 over TCP.

It accepts bind_transmitter / bind_receiver / bind_transceiver (credentials checked by
:class:`CarrierBehaviour`), answers submit_sm with hex message ids (ESME_RTHROTTLED above
the TPS limit), sends delivery receipts as deliver_sm (esm_class 0x04, receipted_message_id
and message_state TLVs plus the customary text) after ``report_delay``, and sends MO
messages as deliver_sm (UDH with esm_class 0x40 for long ones).

``receipt_id_format="decimal"`` writes receipt ids in decimal although submit_sm_resp gave
them in hex, as some real SMSCs do, to exercise the platform's id matching.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from duanxin.domain.encoding import decode_text
from duanxin.domain.msgid import MessageIdGenerator, format_mid
from duanxin.domain.segments import parse_udh, split_message
from duanxin.protocols.core.aio import (
    ResponseTimeout,
    SessionClosed,
    SessionProtocol,
    serve,
)
from duanxin.protocols.core.session import SessionConfig
from duanxin.protocols.core.state import Role
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.client import message_body, sar_concat
from duanxin.protocols.smpp.dialect import SmppDialect, response_to
from duanxin.protocols.smpp.pdu import CommandId, CommandStatus, Pdu
from duanxin.protocols.smpp.receipt import (
    DeliveryReceipt,
    format_receipt,
    format_receipt_time,
    state_for_stat,
)
from duanxin.protocols.smpp.tlv import TlvTag, int_tlv, text_tlv
from duanxin.simulator.core import CarrierBehaviour, DelayedCalls, SimulatorConfig, TokenBucket

__all__ = ["SmppSimulator"]

log = logging.getLogger("duanxin.simulator.smpp")

TON_INTERNATIONAL, NPI_ISDN = 1, 1
MESSAGE_STATE_SIZE = 1
VERSION_SIZE = 1  # sc_interface_version TLV
DELIVERED = "DELIVRD"
ERR_NONE, ERR_FAILED = "000", "001"

_UNSUPPORTED: dict[CommandId, CommandStatus] = {
    CommandId.QUERY_SM: CommandStatus.ESME_RQUERYFAIL,
    CommandId.CANCEL_SM: CommandStatus.ESME_RCANCELFAIL,
    CommandId.REPLACE_SM: CommandStatus.ESME_RREPLACEFAIL,
    CommandId.SUBMIT_MULTI: CommandStatus.ESME_RSUBMITFAIL,
}


@dataclass(eq=False)
class _Link:
    """One ESME connection."""

    session: SessionProtocol[Pdu]
    dialect: SmppDialect
    account: str = ""
    throttle: TokenBucket | None = None
    in_flight: int = 0  # submits received and not yet answered

    @property
    def can_receive(self) -> bool:
        bind = self.dialect.bind_type
        return self.session.is_bound and bind is not None and bind.can_receive


class SmppSimulator:
    """An SMSC for tests and local development (see the module docstring)."""

    def __init__(
        self,
        config: SimulatorConfig,
        *,
        receipt_id_format: Literal["hex", "decimal"] = "hex",
        system_id: str = "SMSC",
    ) -> None:
        if receipt_id_format not in ("hex", "decimal"):
            raise ValueError("receipt_id_format must be 'hex' or 'decimal'")
        self.config = config
        self.behaviour = CarrierBehaviour(config)
        self.receipt_id_format = receipt_id_format
        self.system_id = system_id
        self.received: Counter[CommandId] = Counter()  # every PDU from every ESME
        self.max_in_flight = 0  # most unanswered submits seen on one connection
        self.receipts_sent = 0
        self._ids = MessageIdGenerator(config.node_id)
        self._server: asyncio.Server | None = None
        self._links: dict[SessionProtocol[Pdu], _Link] = {}
        self._receipts = DelayedCalls()
        self._open_gate = asyncio.Event()
        self._open_gate.set()
        self._mo_reference = 0

    # ------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        if self._server is None or not self._server.sockets:
            raise RuntimeError("simulator not started")
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await serve(
            self.config.host,
            self.config.port,
            self._new_session,
            max_per_address=self.config.max_connections_per_address,
        )

    async def stop(self) -> None:
        self._receipts.cancel()
        if self._server is not None:
            self._server.close()
        self.drop_connections()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def drop_connections(self) -> None:
        """Close every ESME connection at once (no unbind), as a crashing SMSC would."""
        for link in list(self._links.values()):
            link.session.abort("dropped by the simulator")

    def hold_submits(self) -> None:
        """Stop answering submits until :meth:`release_submits` (to observe windows)."""
        self._open_gate.clear()

    def release_submits(self) -> None:
        self._open_gate.set()

    @property
    def in_flight(self) -> int:
        """Submits received and not yet answered, over all connections."""
        return sum(link.in_flight for link in self._links.values())

    def _new_session(self) -> SessionProtocol[Pdu]:
        dialect = SmppDialect(Role.SERVER, received=self.received)
        session: SessionProtocol[Pdu] = SessionProtocol(
            dialect,
            Role.SERVER,
            self._handle,
            SessionConfig(heartbeat_interval=None, login_timeout=self.config.login_timeout),
        )
        self._links[session] = _Link(session, dialect)
        session.closed.add_done_callback(lambda _: self._links.pop(session, None))
        return session

    # --------------------------------------------------------- ESME requests

    def _handle(
        self, session: SessionProtocol[Pdu], pdu: Pdu
    ) -> Awaitable[Pdu | None] | Pdu | None:
        link = self._links.get(session)
        if link is None:
            return None
        if isinstance(pdu, p.BindTransmitter | p.BindReceiver | p.BindTransceiver):
            return self._bind(link, pdu)
        if isinstance(pdu, p.SubmitSm):
            return self._submit(link, pdu)
        if isinstance(pdu, p.DataSm):
            return p.DataSmResp(
                sequence_number=pdu.sequence_number, message_id=self._accept_data(pdu)
            )
        status = _UNSUPPORTED.get(pdu.command_id, CommandStatus.ESME_RINVCMDID)
        return response_to(pdu, status)

    def _bind(self, link: _Link, pdu: p.Bind) -> Pdu:
        answer = p.BIND_RESPONSE[pdu.command_id]
        if not self.behaviour.accepts_login(pdu.system_id, pdu.password):
            expected = self.config.account
            status = (
                CommandStatus.ESME_RINVSYSID
                if expected is not None and pdu.system_id != expected
                else CommandStatus.ESME_RINVPASWD
            )
            return answer(sequence_number=pdu.sequence_number, command_status=status)
        loop = asyncio.get_running_loop()
        link.account = pdu.system_id
        link.throttle = self.behaviour.new_throttle(loop.time())
        return answer(
            sequence_number=pdu.sequence_number,
            system_id=self.system_id,
            tlvs=(int_tlv(TlvTag.SC_INTERFACE_VERSION, p.INTERFACE_VERSION_34, VERSION_SIZE),),
        )

    def _submit(self, link: _Link, pdu: p.SubmitSm) -> Awaitable[Pdu] | Pdu:
        now = asyncio.get_running_loop().time()
        if link.throttle is not None and not link.throttle.take(now):
            return p.SubmitSmResp(
                sequence_number=pdu.sequence_number, command_status=CommandStatus.ESME_RTHROTTLED
            )
        link.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, link.in_flight)
        if self._open_gate.is_set():
            return self._accept(link, pdu)
        return self._accept_later(link, pdu)

    async def _accept_later(self, link: _Link, pdu: p.SubmitSm) -> Pdu:
        await self._open_gate.wait()
        return self._accept(link, pdu)

    def _accept(self, link: _Link, pdu: p.SubmitSm) -> Pdu:
        link.in_flight -= 1
        loop = asyncio.get_running_loop()
        submitted = datetime.now()
        value = self._ids.next_id(submitted)
        carrier_id = format_mid(value)
        body = message_body(pdu)
        if pdu.esm_class & p.ESM_UDHI:
            concat, body = parse_udh(body)
        else:
            concat = sar_concat(pdu.tlvs)
        text = decode_text(body, pdu.data_coding)
        self.behaviour.record(
            pdu.source_addr, pdu.destination_addr, text, concat, carrier_id, loop.time()
        )
        mode = pdu.registered_delivery & p.RECEIPT_MASK
        if mode in (p.RECEIPT_ON_FINAL, p.RECEIPT_ON_FAILURE):
            stat = self.behaviour.draw_stat()
            if mode == p.RECEIPT_ON_FINAL or stat != DELIVERED:
                receipt = self._receipt(pdu, value, stat, submitted)
                self._later(self.config.report_delay, link, receipt)
        return p.SubmitSmResp(sequence_number=pdu.sequence_number, message_id=carrier_id)

    def _accept_data(self, pdu: p.DataSm) -> str:
        carrier_id = format_mid(self._ids.next_id(datetime.now()))
        text = decode_text(message_body(pdu), pdu.data_coding)
        now = asyncio.get_running_loop().time()
        self.behaviour.record(pdu.source_addr, pdu.destination_addr, text, None, carrier_id, now)
        return carrier_id

    # ------------------------------------------------------------- receipts

    def _receipt(self, submit: p.SubmitSm, value: int, stat: str, submitted: datetime) -> Pdu:
        receipt_id = str(value) if self.receipt_id_format == "decimal" else format_mid(value)
        delivered = stat == DELIVERED
        text = format_receipt(
            DeliveryReceipt(
                message_id=receipt_id,
                dlvrd=1 if delivered else 0,
                submit_date=format_receipt_time(submitted),
                done_date=format_receipt_time(datetime.now()),
                stat=stat,
                err=ERR_NONE if delivered else ERR_FAILED,
            )
        )
        return p.DeliverSm(
            source_addr_ton=submit.dest_addr_ton,
            source_addr_npi=submit.dest_addr_npi,
            source_addr=submit.destination_addr,
            dest_addr_ton=submit.source_addr_ton,
            dest_addr_npi=submit.source_addr_npi,
            destination_addr=submit.source_addr,
            esm_class=p.ESM_DELIVERY_RECEIPT,
            short_message=text.encode("latin-1", errors="replace"),
            tlvs=(
                text_tlv(TlvTag.RECEIPTED_MESSAGE_ID, receipt_id),
                int_tlv(TlvTag.MESSAGE_STATE, state_for_stat(stat), MESSAGE_STATE_SIZE),
            ),
        )

    def _later(self, delay: float, link: _Link, deliver: Pdu) -> None:
        self._receipts.add(delay, self._send_receipt, link, deliver)

    def _send_receipt(self, link: _Link, deliver: Pdu) -> None:
        target = self._receiver_for(link)
        if target is None:
            log.info("receipt dropped: no receiving connection for %r", link.account)
            return
        # No task per receipt: the response (or the error) only has to be collected.
        answer = target.session.send_request(deliver)
        answer.add_done_callback(lambda answer: self._receipt_answered(target, answer))

    def _receiver_for(self, link: _Link) -> _Link | None:
        if link.can_receive:
            return link
        for other in self._links.values():
            if other.can_receive and other.account == link.account:
                return other
        return None

    def _receipt_answered(self, link: _Link, answer: asyncio.Future[Pdu]) -> None:
        if answer.cancelled():
            return
        error = answer.exception()
        if isinstance(error, SessionClosed | ResponseTimeout):
            log.info("deliver_sm to %s lost: %s", link.session.peer, error)
        elif error is not None:
            log.error("deliver_sm to %s failed", link.session.peer, exc_info=error)
        elif answer.result().command_status == 0:
            self.receipts_sent += 1

    # ------------------------------------------------------------------- MO

    async def inject_mo(self, source: str, destination: str, text: str) -> None:
        """Send ``text`` from handset ``source`` to ``destination`` on a receiving bind."""
        link = next((link for link in self._links.values() if link.can_receive), None)
        if link is None:
            raise RuntimeError("no ESME is bound to receive")
        self.behaviour.note_mo(source, destination, text)
        self._mo_reference = (self._mo_reference + 1) & 0xFF
        for segment in split_message(text, self._mo_reference):
            deliver = p.DeliverSm(
                source_addr_ton=TON_INTERNATIONAL,
                source_addr_npi=NPI_ISDN,
                source_addr=source,
                dest_addr_npi=NPI_ISDN,
                destination_addr=destination,
                esm_class=p.ESM_UDHI if segment.has_udh else 0,
                data_coding=segment.coding,
                short_message=segment.user_data,
            )
            response = await link.session.request(deliver)
            if response.command_status != 0:
                log.info("MO refused with status 0x%X", response.command_status)
