"""The platform's own CMPP 2.0/3.0 server, for customers (the ISMG side of CMPP).

CONNECT: ``Source_Addr`` is the account, ``AuthenticatorSource`` the MD5 digest of its
password; versions 0x20, 0x21 and 0x30 are answered in kind (``AuthenticatorISMG``
back), others with status 4. SUBMIT: one message to its destinations, through the same
``send`` as ``/smssend``; a long one (``TP_udhi`` with a concatenation UDH) is held until
every segment is in, sent as one message, and every segment answered with an id of its
own. Reports go back as DELIVER with Registered_Delivery 1 (one per id given), replies
with Registered_Delivery 0 (UDH segments when long). Status codes: ``access/tables.py``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable
from functools import partial

from duanxin.access.assembly import BadSegment
from duanxin.access.base import AccessLink, AccessServer, Submitted, all_answered
from duanxin.access.tables import cmpp_connect_status, cmpp_submit_result
from duanxin.domain.accounts import Interface
from duanxin.domain.encoding import decode_text
from duanxin.domain.segments import parse_udh, split_message
from duanxin.domain.status import Status, StatusError
from duanxin.protocols.cmpp.auth import authenticator_ismg, verify_connect
from duanxin.protocols.cmpp.dialect import CmppDialect
from duanxin.protocols.cmpp.pdu import (
    DEST_ID_SIZE,
    STAT_SIZE,
    CmppCancel,
    CmppCancelResp,
    CmppCancelResult,
    CmppConnect,
    CmppConnectResp,
    CmppConnectStatus,
    CmppDeliver,
    CmppDeliverResp,
    CmppDeliverResult,
    CmppMsgFmt,
    CmppQuery,
    CmppQueryResp,
    CmppRegisteredDelivery,
    CmppSubmit,
    CmppSubmitResp,
    CmppVersion,
    Pdu,
)
from duanxin.protocols.cmpp.report import CmppStatusReport
from duanxin.protocols.core.aio import SessionProtocol
from duanxin.protocols.core.state import Role
from duanxin.service import access
from duanxin.service.access import ReplyItem, ReportItem

__all__ = ["SUPPORTED_VERSIONS", "CmppAccessServer"]

SUPPORTED_VERSIONS = frozenset({CmppVersion.V20, CmppVersion.V21, CmppVersion.V30})
BIND_TYPE = "transceiver"  # a CMPP connection both submits and receives
_REPORT_TIME = "%y%m%d%H%M"
_SEQUENCE_MASK = 0xFFFFFFFF
_REFERENCE_MASK = 0xFF


class _CmppLink(AccessLink[Pdu]):
    """One customer's CMPP connection; the delivery sink of its account's items."""

    def __init__(self, server: CmppAccessServer, session: SessionProtocol[Pdu]) -> None:
        super().__init__(server, session)
        self.dialect: CmppDialect = session.dialect  # type: ignore[assignment]

    def deliver_report(self, item: ReportItem) -> asyncio.Future[bool]:
        version = self.dialect.version
        ids = self.server.platform.ids
        delivers = [
            CmppDeliver(
                version=version,
                msg_id=ids.next_id(self.server.platform.clock()),
                dest_id=item.access_code[:DEST_ID_SIZE],
                msg_fmt=CmppMsgFmt.ASCII,
                src_terminal_id=item.mobile,
                registered_delivery=CmppRegisteredDelivery.YES,
                msg_content=CmppStatusReport(
                    version=version,
                    msg_id=int(given, 16),
                    stat=item.stat[:STAT_SIZE],
                    submit_time=item.submitted.strftime(_REPORT_TIME),
                    done_time=item.done.strftime(_REPORT_TIME),
                    dest_terminal_id=item.mobile,
                    smsc_sequence=next(_SMSC_SEQUENCE) & _SEQUENCE_MASK,
                ).encode(),
            )
            for given in item.given_ids
        ]
        return self._all_ok(delivers)

    def deliver_reply(self, item: ReplyItem) -> asyncio.Future[bool]:
        segments = split_message(item.content, int(item.mid, 16) & _REFERENCE_MASK)
        delivers = [
            CmppDeliver(
                version=self.dialect.version,
                msg_id=int(item.mid, 16),
                dest_id=item.access_code[:DEST_ID_SIZE],
                tp_udhi=1 if segment.has_udh else 0,
                msg_fmt=segment.coding,
                src_terminal_id=item.mobile,
                registered_delivery=CmppRegisteredDelivery.NO,
                msg_content=segment.user_data,
            )
            for segment in segments
        ]
        return self._all_ok(delivers)

    def _all_ok(self, delivers: list[CmppDeliver]) -> asyncio.Future[bool]:
        return all_answered([self.session.send_request(d) for d in delivers], _delivered)


def _delivered(answer: Pdu) -> bool:
    return isinstance(answer, CmppDeliverResp) and answer.result == CmppDeliverResult.OK


_SMSC_SEQUENCE = itertools.count(1)


def _refusal(submit: CmppSubmit, status: Status) -> CmppSubmitResp:
    return CmppSubmitResp(
        sequence_id=submit.sequence_id, version=submit.version, result=cmpp_submit_result(status)
    )


def _refuse_incomplete(submit: Pdu) -> Pdu:
    assert isinstance(submit, CmppSubmit)
    return _refusal(submit, Status.MALFORMED)


class CmppAccessServer(AccessServer[Pdu]):
    """Customers' CMPP logins, submits and deliveries."""

    interface = Interface.CMPP

    def _new_session(self) -> SessionProtocol[Pdu]:
        session: SessionProtocol[Pdu] = SessionProtocol(
            CmppDialect(),
            Role.SERVER,
            lambda session, pdu: self._handle(link, pdu),
            self.config.session_config(),
        )
        link = _CmppLink(self, session)
        self.track(link)
        return session

    def _handle(self, link: _CmppLink, pdu: Pdu) -> Awaitable[Pdu | None] | Pdu | None:
        if isinstance(pdu, CmppConnect):
            return self._login(link, pdu)
        if isinstance(pdu, CmppSubmit):
            return self._submit(link, pdu)
        if isinstance(pdu, CmppQuery):
            return CmppQueryResp(
                sequence_id=pdu.sequence_id,
                time=pdu.time,
                query_type=pdu.query_type,
                query_code=pdu.query_code,
            )
        if isinstance(pdu, CmppCancel):
            return CmppCancelResp(
                sequence_id=pdu.sequence_id,
                version=link.dialect.version,
                success_id=CmppCancelResult.FAILED,
            )
        return None

    # ---------------------------------------------------------------- login

    async def _login(self, link: _CmppLink, connect: CmppConnect) -> CmppConnectResp | None:
        secret = ""

        def proves(password: str) -> bool:
            nonlocal secret
            secret = password
            return verify_connect(connect, password) == CmppConnectStatus.OK

        try:
            if connect.version not in SUPPORTED_VERSIONS:
                raise StatusError(Status.VERSION, f"CMPP version {connect.version:#x}")
            account = await access.login(self.platform, connect.source_addr, proves, link.caller())
            connection = await self.connections.open(
                account, Interface.CMPP, BIND_TYPE, link.peer_text, receives=True
            )
        except StatusError as error:
            return CmppConnectResp(
                sequence_id=connect.sequence_id,
                status=cmpp_connect_status(error.status),
                version=_answer_version(connect.version),
            )
        status = CmppConnectStatus.OK
        link.session.send_response(
            CmppConnectResp(
                sequence_id=connect.sequence_id,
                status=status,
                authenticator_ismg=authenticator_ismg(
                    status, connect.authenticator_source, secret, connect.version
                ),
                version=connect.version,
            )
        )
        link.logged_in(connection, link)
        return None

    # --------------------------------------------------------------- submit

    def _submit(self, link: _CmppLink, submit: CmppSubmit) -> Awaitable[Pdu | None] | Pdu | None:
        if not submit.dest_terminal_ids:
            return _refusal(submit, Status.MALFORMED)
        if submit.tp_udhi & 1:
            concat, body = parse_udh(submit.msg_content)
        else:
            concat, body = None, submit.msg_content
        text = decode_text(body, submit.msg_fmt)
        if concat is None or concat.total <= 1:
            if len(submit.dest_terminal_ids) == 1 and submit.dest_terminal_ids[0].strip():
                return link.submit_one(
                    submit.dest_terminal_ids[0], text, partial(_answer, submit, 0)
                )
            return self._send(link, [submit], text)
        key = (submit.dest_terminal_ids, submit.src_id)
        try:
            parts = link.hold_segment(key, concat, text, submit, _refuse_incomplete)
        except BadSegment:
            return _refusal(submit, Status.MALFORMED)
        if parts is None:
            return None  # answered when its set is sent, or refused when it expires
        tokens = [p.token for p in parts]
        return self._send(link, [t for t in tokens if isinstance(t, CmppSubmit)],
                          "".join(p.text for p in parts))  # fmt: skip

    async def _send(self, link: _CmppLink, submits: list[CmppSubmit], text: str) -> None:
        submitted = await link.submit(submits[0].dest_terminal_ids, text, len(submits))
        for index, submit in enumerate(submits):
            link.session.send_response(_answer(submit, index, submitted))


def _answer(submit: CmppSubmit, index: int, submitted: Submitted) -> CmppSubmitResp:
    """The SUBMIT_RESP of the ``index``-th segment of a message the platform answered."""
    if submitted.status is not Status.OK:
        return _refusal(submit, submitted.status)
    return CmppSubmitResp(
        sequence_id=submit.sequence_id,
        version=submit.version,
        msg_id=int(submitted.ids[index], 16),
        result=0,
    )


def _answer_version(requested: int) -> int:
    """The Version of a refusal: the one asked for when we speak it, else 2.0's layout."""
    return requested if requested in SUPPORTED_VERSIONS else CmppVersion.V20
