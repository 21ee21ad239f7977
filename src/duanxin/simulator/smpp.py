"""A simulated SMSC speaking SMPP 3.4 over TCP.

It accepts bind_transmitter / bind_receiver / bind_transceiver (credentials checked by
:class:`CarrierBehaviour`), answers submit_sm with hex message ids (ESME_RTHROTTLED above
the TPS limit), sends delivery receipts as deliver_sm (esm_class 0x04, receipted_message_id
and message_state TLVs plus the customary text) after ``report_delay``, and sends MO
messages as deliver_sm (UDH with esm_class 0x40 for long ones).

``receipt_id_format="decimal"`` (or the ``decimal-ids`` fault) writes receipt ids in decimal
although submit_sm_resp gave them in hex, as some real SMSCs do, to exercise the platform's
id matching; ``hex-ids`` does the reverse. The ``ack-deliver`` fault adds an SME delivery
acknowledgement (esm_class 0x08) and an intermediate notification (0x20) per submit.
Fault results: ESME_RTHROTTLED (throttle), ESME_RMSGQFUL (busy), ESME_RINVDSTADR (refuse).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from duanxin.domain.encoding import decode_text
from duanxin.domain.msgid import MessageIdGenerator, format_mid
from duanxin.domain.segments import Segment, split_message
from duanxin.domain.status import DELIVERED
from duanxin.protocols.core.aio import (
    SessionProtocol,
)
from duanxin.protocols.core.session import SessionConfig
from duanxin.protocols.core.state import Role
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.client import message_body, user_data
from duanxin.protocols.smpp.dialect import SmppDialect, response_to
from duanxin.protocols.smpp.pdu import CommandId, CommandStatus, Pdu
from duanxin.protocols.smpp.receipt import (
    DeliveryReceipt,
    format_receipt,
    format_receipt_time,
    state_for_stat,
)
from duanxin.protocols.smpp.tlv import Tlv, TlvTag, int_tlv, text_tlv
from duanxin.simulator.core import CarrierBehaviour, SimulatorConfig, TokenBucket, time_text
from duanxin.simulator.faults import ReceiptIds, SubmitFate
from duanxin.simulator.listening import Listening
from duanxin.simulator.outbox import Kind, Outbox, late_or_now

__all__ = ["SmppSimulator"]

log = logging.getLogger("duanxin.simulator.smpp")

TON_INTERNATIONAL, NPI_ISDN = 1, 1
MESSAGE_STATE_SIZE = 1
VERSION_SIZE = 1  # sc_interface_version TLV
ERR_NONE, ERR_FAILED = "000", "001"

#: submit_sm_resp command_status the fault profiles answer with (notes §8).
THROTTLE_STATUS = CommandStatus.ESME_RTHROTTLED
BUSY_STATUS = CommandStatus.ESME_RMSGQFUL
REFUSE_STATUS = CommandStatus.ESME_RINVDSTADR
ENROUTE = "ENROUTE"
#: deliver_sm message types (esm_class bits 5-2) of ack-deliver's notices (notes §6.3).
ESM_SME_DELIVERY_ACK = 0x08
ESM_INTERMEDIATE = 0x20
#: Their texts: whatever the platform shows a customer must never contain these.
SME_ACK_TEXT = "SME delivery acknowledgement: not a reply"
INTERMEDIATE_TEXT = "intermediate notification: not a reply"

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


def _error(pdu: p.SubmitSm, status: int) -> Pdu:
    return p.SubmitSmResp(sequence_number=pdu.sequence_number, command_status=status)


def _about(
    submit: p.SubmitSm, esm_class: int, short_message: bytes, tlvs: tuple[Tlv, ...] = ()
) -> Pdu:
    """A deliver_sm about ``submit``: from its destination, back to its source."""
    return p.DeliverSm(
        source_addr_ton=submit.dest_addr_ton,
        source_addr_npi=submit.dest_addr_npi,
        source_addr=submit.destination_addr,
        dest_addr_ton=submit.source_addr_ton,
        dest_addr_npi=submit.source_addr_npi,
        destination_addr=submit.source_addr,
        esm_class=esm_class,
        short_message=short_message,
        tlvs=tlvs,
    )


def _notice(submit: p.SubmitSm, esm_class: int, text: str) -> Pdu:
    """An SME acknowledgement or intermediate notification deliver_sm about ``submit``."""
    return _about(submit, esm_class, text.encode("ascii"))


class SmppSimulator(Listening[Pdu]):
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
        self._outbox: Outbox[Pdu] = Outbox(self.behaviour, self._send)
        self._receipt_ids = config.faults.receipt_ids
        if self._receipt_ids is ReceiptIds.SAME and receipt_id_format == "decimal":
            self._receipt_ids = ReceiptIds.DECIMAL
        self._open_gate = asyncio.Event()
        self._open_gate.set()
        self._mo_reference = 0

    # ------------------------------------------------------------ lifecycle

    async def stop(self) -> None:
        self._stop_listening()
        self.drop_links()
        await self._closed()

    def drop_links(self) -> None:
        """Close every ESME connection at once (no unbind), as a crashing SMSC would."""
        for link in list(self._links.values()):
            link.session.abort("dropped by the simulator")

    drop_connections = drop_links

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
        link.account = pdu.system_id
        link.throttle = self.behaviour.new_throttle(self._loop_time())
        self._outbox.flush_later(link.account)
        return answer(
            sequence_number=pdu.sequence_number,
            system_id=self.system_id,
            tlvs=(int_tlv(TlvTag.SC_INTERFACE_VERSION, p.INTERFACE_VERSION_34, VERSION_SIZE),),
        )

    def _submit(self, link: _Link, pdu: p.SubmitSm) -> Awaitable[Pdu] | Pdu | None:
        if not link.session.is_open:
            return None  # read with a PDU that dropped the link: never received
        behaviour = self.behaviour
        if behaviour.drop_due():
            self._receive(link, pdu)  # received, as a real SMSC would have
            link.session.abort("dropped by the simulator (drop-every)")
            return None
        if behaviour.over_tps(link.throttle, self._loop_time()):
            return _error(pdu, THROTTLE_STATUS)
        concat = user_data(pdu)[0] if behaviour.faults.refuse_segment else None
        fate = behaviour.judge(pdu.source_addr, pdu.destination_addr, concat)
        if fate is SubmitFate.SILENT:
            return None
        if fate is not SubmitFate.ACCEPT:
            return _error(pdu, self._fault_status(fate))
        link.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, link.in_flight)
        if self._open_gate.is_set():
            link.in_flight -= 1
            return self._accept(link, pdu)
        return self._accept_later(link, pdu)

    def _fault_status(self, fate: SubmitFate) -> int:
        if fate is SubmitFate.REFUSE:
            return self.config.faults.refuse_code or REFUSE_STATUS
        return BUSY_STATUS if fate is SubmitFate.BUSY else THROTTLE_STATUS

    async def _accept_later(self, link: _Link, pdu: p.SubmitSm) -> Pdu:
        try:
            await self._open_gate.wait()
        finally:
            link.in_flight -= 1
        answer = self._accept(link, pdu)
        return await answer if isinstance(answer, Awaitable) else answer

    def _accept(self, link: _Link, pdu: p.SubmitSm) -> Awaitable[Pdu] | Pdu:
        response, early = self._receive(link, pdu)
        return late_or_now(response, early, self.config.faults.slow)

    def _receive(self, link: _Link, pdu: p.SubmitSm) -> tuple[Pdu, list[asyncio.Future[Any]]]:
        """Take ``pdu`` in: record it, plan its reports; its response and early reports."""
        submitted = datetime.now()
        value = self._ids.next_id(submitted)
        carrier_id = self._render_id(value, receipt=False)
        concat, body = user_data(pdu)
        text = decode_text(body, pdu.data_coding, self.config.alphabet)
        self.behaviour.record(
            pdu.source_addr, pdu.destination_addr, text, concat, carrier_id, self._loop_time()
        )
        items = self._report_items(pdu, value, submitted)
        early: list[asyncio.Future[Any]] = []
        if self.config.faults.early_reports and items:
            self.behaviour.early_reports += 1
            early = self._outbox.send_now(link.account, items)
        else:
            self._outbox.plan(link.account, items)
        response = p.SubmitSmResp(sequence_number=pdu.sequence_number, message_id=carrier_id)
        return response, early

    def _render_id(self, value: int, *, receipt: bool) -> str:
        """An id as submit_sm_resp (``receipt=False``) or the receipt writes it."""
        mode = self._receipt_ids
        if mode is ReceiptIds.SAME:
            return format_mid(value)
        decimal = receipt == (mode is ReceiptIds.DECIMAL)
        return str(value) if decimal else format_mid(value)

    def _accept_data(self, pdu: p.DataSm) -> str:
        carrier_id = format_mid(self._ids.next_id(datetime.now()))
        text = decode_text(message_body(pdu), pdu.data_coding, self.config.alphabet)
        now = self._loop_time()
        self.behaviour.record(pdu.source_addr, pdu.destination_addr, text, None, carrier_id, now)
        return carrier_id

    # ------------------------------------------------------------- receipts

    def _report_items(
        self, submit: p.SubmitSm, value: int, submitted: datetime
    ) -> list[tuple[Kind, Pdu]]:
        faults = self.config.faults
        items: list[tuple[Kind, Pdu]] = []
        if faults.ack_deliver:
            items.append((Kind.ACK, _notice(submit, ESM_SME_DELIVERY_ACK, SME_ACK_TEXT)))
            items.append((Kind.ACK, _notice(submit, ESM_INTERMEDIATE, INTERMEDIATE_TEXT)))
        mode = submit.registered_delivery & p.RECEIPT_MASK
        if mode not in (p.RECEIPT_ON_FINAL, p.RECEIPT_ON_FAILURE):
            return items
        stat = self.behaviour.draw_stat()
        if mode == p.RECEIPT_ON_FAILURE and stat == DELIVERED:
            return items
        if faults.enroute:
            items.append((Kind.INTERMEDIATE, self._receipt(submit, value, ENROUTE, submitted)))
        items.append((Kind.FINAL, self._receipt(submit, value, stat, submitted)))
        return items

    def _receipt(self, submit: p.SubmitSm, value: int, stat: str, submitted: datetime) -> Pdu:
        receipt_id = self._render_id(value, receipt=True)
        delivered = stat == DELIVERED
        text = format_receipt(
            DeliveryReceipt(
                message_id=receipt_id,
                dlvrd=1 if delivered else 0,
                submit_date=time_text(format_receipt_time, submitted),
                done_date=time_text(format_receipt_time, datetime.now()),
                stat=stat,
                err=ERR_NONE if delivered or stat == ENROUTE else ERR_FAILED,
            )
        )
        return _about(
            submit,
            p.ESM_DELIVERY_RECEIPT,
            text.encode("latin-1", errors="replace"),
            (
                text_tlv(TlvTag.RECEIPTED_MESSAGE_ID, receipt_id),
                int_tlv(TlvTag.MESSAGE_STATE, state_for_stat(stat), MESSAGE_STATE_SIZE),
            ),
        )

    def _send(self, account: str | None, deliver: Pdu) -> asyncio.Future[Any] | None:
        target = self._receiver(account)
        if target is None:
            return None
        # No task per receipt: the response (or the error) only has to be collected.
        answer: asyncio.Future[Any] = target.session.send_request(deliver)
        if isinstance(deliver, p.DeliverSm) and deliver.esm_class == p.ESM_DELIVERY_RECEIPT:
            answer.add_done_callback(self._receipt_answered)
        return answer

    def _receiver(self, account: str | None) -> _Link | None:
        for link in self._links.values():
            if link.can_receive and account in (None, link.account):
                return link
        return None

    def _receipt_answered(self, answer: asyncio.Future[Pdu]) -> None:
        if answer.cancelled() or answer.exception() is not None:
            return  # the outbox keeps what a closed link lost, and logs the rest
        if answer.result().command_status == 0:
            self.receipts_sent += 1

    # ------------------------------------------------------------------- MO

    async def inject_mo(
        self, source: str, destination: str, text: str, *, keep: bool = False
    ) -> None:
        """Send ``text`` from handset ``source`` to ``destination`` on a receiving bind.

        Raises RuntimeError when no ESME is bound to receive, unless ``keep``: then the MO
        is kept and sent, in order, when a receiving bind comes.
        """
        self._mo_reference = (self._mo_reference + 1) & 0xFF
        items = [
            (Kind.MO, _mo_deliver(source, destination, segment))
            for segment in split_message(text, self._mo_reference, self.config.alphabet)
        ]
        answers = self._outbox.send_now(None, items) if keep else self._outbox.try_send(None, items)
        if answers is None:
            raise RuntimeError("no ESME is bound to receive")
        self.behaviour.note_mo(source, destination, text)
        for response in await asyncio.gather(*answers, return_exceptions=keep):
            if isinstance(response, p.DeliverSmResp) and response.command_status != 0:
                log.info("MO refused with status 0x%X", response.command_status)


def _mo_deliver(source: str, destination: str, segment: Segment) -> Pdu:
    return p.DeliverSm(
        source_addr_ton=TON_INTERNATIONAL,
        source_addr_npi=NPI_ISDN,
        source_addr=source,
        dest_addr_npi=NPI_ISDN,
        destination_addr=destination,
        esm_class=p.ESM_UDHI if segment.has_udh else 0,
        data_coding=segment.coding,
        short_message=segment.user_data,
    )
