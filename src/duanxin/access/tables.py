"""The one table from platform status codes (SPEC 2.3) to each protocol's own codes.

A login refused by the account checks answers CONNECT_RESP / bind_*_resp with the login
column; a message refused answers SUBMIT_RESP / submit_sm_resp with the submit column.
Where a protocol has no standard code for a refusal, CMPP answers in its "other error"
range (CONNECT_RESP: the platform code itself, which is >= 5 there; SUBMIT_RESP: 20 + the
platform code) and SMPP in its vendor-specific range (0x400 + the platform code), so a
customer can always tell the reasons apart. The README shows the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

from duanxin.domain.status import Status
from duanxin.protocols.cmpp.pdu import CmppConnectStatus, CmppSubmitResult
from duanxin.protocols.smpp.status import CommandStatus

__all__ = [
    "CMPP_OTHER_SUBMIT_BASE",
    "SMPP_VENDOR_BASE",
    "STATUS_CODES",
    "ProtocolCodes",
    "cmpp_connect_status",
    "cmpp_submit_result",
    "smpp_bind_status",
    "smpp_submit_status",
]

#: SUBMIT_RESP Result for a platform refusal CMPP has no code of its own for: this + code.
CMPP_OTHER_SUBMIT_BASE = 20
#: SMPP's vendor-specific command_status range (0x400-0x4FF): this + the platform code.
SMPP_VENDOR_BASE = 0x400


@dataclass(frozen=True, slots=True)
class ProtocolCodes:
    cmpp_connect: int
    cmpp_submit: int
    smpp_bind: int
    smpp_submit: int


def _other(status: Status) -> ProtocolCodes:
    return ProtocolCodes(
        cmpp_connect=max(int(status), CmppConnectStatus.OTHER_ERROR),
        cmpp_submit=CMPP_OTHER_SUBMIT_BASE + status,
        smpp_bind=SMPP_VENDOR_BASE + status,
        smpp_submit=SMPP_VENDOR_BASE + status,
    )


_S, _C, _R, _B = Status, CmppConnectStatus, CmppSubmitResult, CommandStatus
STATUS_CODES: dict[Status, ProtocolCodes] = {
    _S.OK: ProtocolCodes(_C.OK, _R.OK, _B.ESME_ROK, _B.ESME_ROK),
    _S.MALFORMED: ProtocolCodes(
        _C.BAD_STRUCTURE, _R.BAD_STRUCTURE, _B.ESME_RBINDFAIL, SMPP_VENDOR_BASE + _S.MALFORMED
    ),
    _S.IP_NOT_ALLOWED: ProtocolCodes(
        _C.ILLEGAL_SOURCE_ADDRESS,
        CMPP_OTHER_SUBMIT_BASE + _S.IP_NOT_ALLOWED,
        SMPP_VENDOR_BASE + _S.IP_NOT_ALLOWED,
        SMPP_VENDOR_BASE + _S.IP_NOT_ALLOWED,
    ),
    _S.WRONG_ACCOUNT: ProtocolCodes(
        _C.AUTHENTICATION_FAILED,
        CMPP_OTHER_SUBMIT_BASE + _S.WRONG_ACCOUNT,
        _B.ESME_RINVPASWD,
        SMPP_VENDOR_BASE + _S.WRONG_ACCOUNT,
    ),
    _S.VERSION: ProtocolCodes(
        _C.VERSION_TOO_HIGH,
        CMPP_OTHER_SUBMIT_BASE + _S.VERSION,
        SMPP_VENDOR_BASE + _S.VERSION,
        SMPP_VENDOR_BASE + _S.VERSION,
    ),
    _S.OTHER: _other(_S.OTHER),
    _S.ACCESS_POINT: _other(_S.ACCESS_POINT),
    _S.ACCOUNT_STATE: _other(_S.ACCOUNT_STATE),
    _S.TOO_MANY_CONNECTIONS: ProtocolCodes(
        _S.TOO_MANY_CONNECTIONS,
        _R.FLOW_CONTROL,
        SMPP_VENDOR_BASE + _S.TOO_MANY_CONNECTIONS,
        _B.ESME_RTHROTTLED,
    ),
    _S.INTERNAL: ProtocolCodes(
        _C.OTHER_ERROR, _R.BAD_DEST_TERMINAL_ID, _B.ESME_RSYSERR, _B.ESME_RINVDSTADR
    ),
    _S.TOO_MANY_NUMBERS: ProtocolCodes(
        _C.OTHER_ERROR, _R.BAD_DEST_TERMINAL_ID, _B.ESME_RSYSERR, _B.ESME_RINVNUMDESTS
    ),
}


def cmpp_connect_status(status: Status) -> int:
    return STATUS_CODES[status].cmpp_connect


def cmpp_submit_result(status: Status) -> int:
    return STATUS_CODES[status].cmpp_submit


def smpp_bind_status(status: Status) -> int:
    return STATUS_CODES[status].smpp_bind


def smpp_submit_status(status: Status) -> int:
    return STATUS_CODES[status].smpp_submit
