"""The platform's own SMPP 3.4 server, for customers (the SMSC side of SMPP).

bind_transmitter / bind_receiver / bind_transceiver: ``system_id`` is the account and
``password`` its password. submit_sm: one message through the same ``send`` as
``/smssend``; a long one (UDH with esm_class 0x40, or the sar_* TLVs) is held until every
segment is in and sent as one message, each segment answered with an id of its own
(``message_payload`` carries a long text in one PDU). message_id is the 16 hex digits of
the platform's 64-bit id. Reports go to receiving binds as delivery receipts (esm_class
0x04, the customary text and the receipted_message_id / message_state TLVs of SMPP 3.4
Appendix B), one per id given; replies as ordinary deliver_sm (UDH segments when long).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable
from functools import partial

from duanxin.access.assembly import BadSegment
from duanxin.access.base import AccessLink, AccessServer, Submitted, all_answered
from duanxin.access.tables import smpp_bind_status, smpp_submit_status
from duanxin.domain.accounts import Interface
from duanxin.domain.encoding import decode_text
from duanxin.domain.segments import split_message
from duanxin.domain.status import DELIVERED, Status, StatusError
from duanxin.protocols.core.aio import SessionProtocol
from duanxin.protocols.core.state import Role
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.client import user_data
from duanxin.protocols.smpp.dialect import BIND_TYPES, SmppDialect, response_to
from duanxin.protocols.smpp.pdu import CommandStatus, Pdu
from duanxin.protocols.smpp.receipt import (
    DeliveryReceipt,
    format_receipt,
    format_receipt_time,
    state_for_stat,
)
from duanxin.protocols.smpp.tlv import TlvTag, int_tlv, text_tlv
from duanxin.service import access
from duanxin.service.access import ReplyItem, ReportItem

__all__ = ["SYSTEM_ID", "SmppAccessServer"]

SYSTEM_ID = "duanxin"
MESSAGE_STATE_SIZE = 1
ERR_NONE, ERR_FAILED = "000", "001"
_REFERENCE_MASK = 0xFF


class _SmppLink(AccessLink[Pdu]):
    """One customer's SMPP bind; the delivery sink of its account's items."""

    def deliver_report(self, item: ReportItem) -> asyncio.Future[bool]:
        delivered = item.stat == DELIVERED
        delivers = []
        for given in item.given_ids:
            text = format_receipt(
                DeliveryReceipt(
                    message_id=given,
                    dlvrd=1 if delivered else 0,
                    submit_date=format_receipt_time(item.submitted),
                    done_date=format_receipt_time(item.done),
                    stat=item.stat,
                    err=ERR_NONE if delivered else ERR_FAILED,
                )
            )
            delivers.append(
                p.DeliverSm(
                    source_addr=item.mobile,
                    destination_addr=item.access_code,
                    esm_class=p.ESM_DELIVERY_RECEIPT,
                    short_message=text.encode("ascii", errors="replace"),
                    tlvs=(
                        text_tlv(TlvTag.RECEIPTED_MESSAGE_ID, given),
                        int_tlv(
                            TlvTag.MESSAGE_STATE, state_for_stat(item.stat), MESSAGE_STATE_SIZE
                        ),
                    ),
                )
            )
        return self._all_ok(delivers)

    def deliver_reply(self, item: ReplyItem) -> asyncio.Future[bool]:
        segments = split_message(item.content, int(item.mid, 16) & _REFERENCE_MASK)
        delivers = [
            p.DeliverSm(
                source_addr=item.mobile,
                destination_addr=item.access_code,
                esm_class=p.ESM_UDHI if segment.has_udh else 0,
                data_coding=segment.coding,
                short_message=segment.user_data,
            )
            for segment in segments
        ]
        return self._all_ok(delivers)

    def _all_ok(self, delivers: list[p.DeliverSm]) -> asyncio.Future[bool]:
        return all_answered([self.session.send_request(d) for d in delivers], _delivered)


def _delivered(answer: Pdu) -> bool:
    return isinstance(answer, p.DeliverSmResp) and answer.command_status == CommandStatus.ESME_ROK


def _refusal(submit: Pdu, status: Status) -> Pdu:
    return p.SubmitSmResp(
        sequence_number=submit.sequence_number, command_status=smpp_submit_status(status)
    )


def _refuse_incomplete(submit: Pdu) -> Pdu:
    return _refusal(submit, Status.MALFORMED)


class SmppAccessServer(AccessServer[Pdu]):
    """Customers' SMPP binds, submits and deliveries."""

    interface = Interface.SMPP

    def _new_session(self) -> SessionProtocol[Pdu]:
        session: SessionProtocol[Pdu] = SessionProtocol(
            SmppDialect(Role.SERVER),
            Role.SERVER,
            lambda session, pdu: self._handle(link, pdu),
            self.config.session_config(),
        )
        link = _SmppLink(self, session)
        self.track(link)
        return session

    def _handle(self, link: _SmppLink, pdu: Pdu) -> Awaitable[Pdu | None] | Pdu | None:
        if isinstance(pdu, p.BindTransmitter | p.BindReceiver | p.BindTransceiver):
            return self._bind(link, pdu)
        if isinstance(pdu, p.SubmitSm):
            return self._submit(link, pdu)
        return response_to(pdu, CommandStatus.ESME_RINVCMDID)

    # ----------------------------------------------------------------- bind

    async def _bind(self, link: _SmppLink, bind: p.Bind) -> Pdu | None:
        answer = p.BIND_RESPONSE[bind.command_id]
        bind_type = BIND_TYPES[bind.command_id]

        def proves(password: str) -> bool:
            return hmac.compare_digest(password.encode(), bind.password.encode())

        try:
            account = await access.login(self.platform, bind.system_id, proves, link.caller())
            connection = await self.connections.open(
                account,
                Interface.SMPP,
                bind_type.value,
                link.peer_text,
                receives=bind_type.can_receive,
            )
        except StatusError as error:
            return answer(
                sequence_number=bind.sequence_number,
                command_status=smpp_bind_status(error.status),
            )
        link.session.send_response(
            answer(sequence_number=bind.sequence_number, system_id=SYSTEM_ID)
        )
        link.logged_in(connection, link)
        return None

    # --------------------------------------------------------------- submit

    def _submit(self, link: _SmppLink, submit: p.SubmitSm) -> Awaitable[Pdu | None] | Pdu | None:
        concat, body = user_data(submit)
        if not submit.destination_addr:
            return _refusal(submit, Status.MALFORMED)
        text = decode_text(body, submit.data_coding)
        if concat is None or concat.total <= 1:
            if not submit.destination_addr.strip():
                return self._send(link, [submit], text)
            return link.submit_one(submit.destination_addr, text, partial(_answer, submit, 0))
        key = (submit.source_addr, submit.destination_addr)
        try:
            parts = link.hold_segment(key, concat, text, submit, _refuse_incomplete)
        except BadSegment:
            return _refusal(submit, Status.MALFORMED)
        if parts is None:
            return None  # answered when its set is sent, or refused when it expires
        return self._send(
            link, [part.token for part in parts], "".join(part.text for part in parts)
        )

    async def _send(self, link: _SmppLink, submits: list[Pdu], text: str) -> None:
        first = submits[0]
        assert isinstance(first, p.SubmitSm)
        submitted = await link.submit((first.destination_addr,), text, len(submits))
        for index, submit in enumerate(submits):
            link.session.send_response(_answer(submit, index, submitted))


def _answer(submit: Pdu, index: int, submitted: Submitted) -> Pdu:
    """The submit_sm_resp of the ``index``-th segment of a message the platform answered."""
    if submitted.status is not Status.OK:
        return _refusal(submit, submitted.status)
    return p.SubmitSmResp(sequence_number=submit.sequence_number, message_id=submitted.ids[index])
