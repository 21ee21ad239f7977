"""SGIP 1.2, China Unicom's SP <-> SMG protocol: sans-IO codec, session dialect, client.

SGIP links carry commands one way only: the SP binds to the SMG (LoginType 1) to Submit,
and the SMG binds to a listener the SP runs (LoginType 2) to push Deliver (MO) and Report.
:func:`open_client` returns a client that runs both. A submitted segment is identified by
its Submit's header sequence triple; see :func:`canonical_id`.
"""

from duanxin.protocols.sgip.client import SgipAdapter, SgipClient, canonical_id, open_client
from duanxin.protocols.sgip.codec import MAX_PDU_SIZE, Decoder, FrameError, decode, encode
from duanxin.protocols.sgip.dialect import SgipDialect
from duanxin.protocols.sgip.pdu import (
    Bind,
    BindResp,
    CommandId,
    Deliver,
    DeliverResp,
    FeeType,
    LoginType,
    MessageCoding,
    Pdu,
    Report,
    ReportFlag,
    ReportResp,
    ReportState,
    Result,
    SequenceNumber,
    Submit,
    SubmitResp,
    Trace,
    TraceNode,
    TraceResp,
    Unbind,
    UnbindResp,
    UserCondition,
    UserRpt,
    UserRptResp,
)

__all__ = [
    "MAX_PDU_SIZE",
    "Bind",
    "BindResp",
    "CommandId",
    "Decoder",
    "Deliver",
    "DeliverResp",
    "FeeType",
    "FrameError",
    "LoginType",
    "MessageCoding",
    "Pdu",
    "Report",
    "ReportFlag",
    "ReportResp",
    "ReportState",
    "Result",
    "SequenceNumber",
    "SgipAdapter",
    "SgipClient",
    "SgipDialect",
    "Submit",
    "SubmitResp",
    "Trace",
    "TraceNode",
    "TraceResp",
    "Unbind",
    "UnbindResp",
    "UserCondition",
    "UserRpt",
    "UserRptResp",
    "canonical_id",
    "decode",
    "encode",
    "open_client",
]
