"""CMPP 2.0 / 3.0 (China Mobile): the SP side of the ISMG link, and the login check a server needs.

- :mod:`.pdu`      PDU dataclasses (one set for both versions; ``version`` picks the layout)
- :mod:`.codec`    ``encode(pdu)``, the incremental ``Decoder`` (set ``version`` after CONNECT)
- :mod:`.report`   the status report inside a report DELIVER's Msg_Content
- :mod:`.auth`     timestamps, AuthenticatorSource/ISMG, ``verify_connect``, ``connect_response``
- :mod:`.dialect`  what the shared session engine needs (sequence, heartbeat, version)
- :mod:`.client`   the carrier adapter, ``open_client`` and ``canonical_id``
"""

from duanxin.protocols.cmpp.auth import (
    authenticator_ismg,
    authenticator_source,
    connect_request,
    connect_response,
    timestamp_of,
    verify_connect,
)
from duanxin.protocols.cmpp.client import CmppAdapter, canonical_id, open_client
from duanxin.protocols.cmpp.codec import MAX_PDU_SIZE, Decoder, FrameError, decode, encode
from duanxin.protocols.cmpp.dialect import CmppDialect
from duanxin.protocols.cmpp.pdu import (
    CmppActiveTest,
    CmppActiveTestResp,
    CmppCancel,
    CmppCancelResp,
    CmppCancelResult,
    CmppConnect,
    CmppConnectResp,
    CmppConnectStatus,
    CmppDeliver,
    CmppDeliverResp,
    CmppDeliverResult,
    CmppFeeUserType,
    CmppMsgFmt,
    CmppQuery,
    CmppQueryResp,
    CmppRegisteredDelivery,
    CmppSubmit,
    CmppSubmitResp,
    CmppSubmitResult,
    CmppTerminalType,
    CmppTerminate,
    CmppTerminateResp,
    CmppVersion,
    CommandId,
    Pdu,
)
from duanxin.protocols.cmpp.report import CmppStatusReport

__all__ = [
    "MAX_PDU_SIZE",
    "CmppActiveTest",
    "CmppActiveTestResp",
    "CmppAdapter",
    "CmppCancel",
    "CmppCancelResp",
    "CmppCancelResult",
    "CmppConnect",
    "CmppConnectResp",
    "CmppConnectStatus",
    "CmppDeliver",
    "CmppDeliverResp",
    "CmppDeliverResult",
    "CmppDialect",
    "CmppFeeUserType",
    "CmppMsgFmt",
    "CmppQuery",
    "CmppQueryResp",
    "CmppRegisteredDelivery",
    "CmppStatusReport",
    "CmppSubmit",
    "CmppSubmitResp",
    "CmppSubmitResult",
    "CmppTerminalType",
    "CmppTerminate",
    "CmppTerminateResp",
    "CmppVersion",
    "CommandId",
    "Decoder",
    "FrameError",
    "Pdu",
    "authenticator_ismg",
    "authenticator_source",
    "canonical_id",
    "connect_request",
    "connect_response",
    "decode",
    "encode",
    "open_client",
    "timestamp_of",
    "verify_connect",
]
