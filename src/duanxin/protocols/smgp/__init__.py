"""China Telecom SMGP 3.0: sans-IO codec, session dialect and carrier client.

- :mod:`.pdu`     command ids, status codes, TLV tags and one dataclass per PDU
- :mod:`.codec`   ``encode(pdu) -> bytes`` and the incremental :class:`Decoder`
- :mod:`.auth`    login digests for both ends (:func:`build_login`, :func:`verify_login`)
- :mod:`.report`  the status report inside a Deliver (:class:`SmgpReport`)
- :mod:`.msgid`   10-byte BCD MsgIDs and their canonical form (:func:`canonical_id`)
- :mod:`.dialect` the shared session engine's view of SMGP
- :mod:`.client`  the carrier client (:func:`open_client`)
"""

from duanxin.protocols.core.table import find_tlv, tlv_int
from duanxin.protocols.smgp.auth import (
    CHINA_STANDARD_TIME,
    build_login,
    client_authenticator,
    login_response,
    login_timestamp,
    server_authenticator,
    verify_login,
)
from duanxin.protocols.smgp.client import SmgpAdapter, open_client
from duanxin.protocols.smgp.codec import MAX_PDU_SIZE, Decoder, FrameError, decode, encode
from duanxin.protocols.smgp.dialect import SmgpDialect
from duanxin.protocols.smgp.msgid import MsgIdGenerator, canonical_id, make_msg_id
from duanxin.protocols.smgp.pdu import (
    CommandId,
    LoginMode,
    MsgFormat,
    Pdu,
    SmgpActiveTest,
    SmgpActiveTestResp,
    SmgpDeliver,
    SmgpDeliverResp,
    SmgpExit,
    SmgpExitResp,
    SmgpLogin,
    SmgpLoginResp,
    SmgpQuery,
    SmgpQueryResp,
    SmgpStatus,
    SmgpSubmit,
    SmgpSubmitResp,
    Tlv,
    TlvTag,
)
from duanxin.protocols.smgp.report import SmgpReport, decode_report, encode_report

__all__ = [
    "CHINA_STANDARD_TIME",
    "MAX_PDU_SIZE",
    "CommandId",
    "Decoder",
    "FrameError",
    "LoginMode",
    "MsgFormat",
    "MsgIdGenerator",
    "Pdu",
    "SmgpActiveTest",
    "SmgpActiveTestResp",
    "SmgpAdapter",
    "SmgpDeliver",
    "SmgpDeliverResp",
    "SmgpDialect",
    "SmgpExit",
    "SmgpExitResp",
    "SmgpLogin",
    "SmgpLoginResp",
    "SmgpQuery",
    "SmgpQueryResp",
    "SmgpReport",
    "SmgpStatus",
    "SmgpSubmit",
    "SmgpSubmitResp",
    "Tlv",
    "TlvTag",
    "build_login",
    "canonical_id",
    "client_authenticator",
    "decode",
    "decode_report",
    "encode",
    "encode_report",
    "find_tlv",
    "login_response",
    "login_timestamp",
    "make_msg_id",
    "open_client",
    "server_authenticator",
    "tlv_int",
    "verify_login",
]
