"""SMPP 3.4: the ESME side (carrier client) and the codec shared with the simulated SMSC.

- :mod:`.pdu`      command ids, status codes, message states and one dataclass per PDU
- :mod:`.tlv`      optional parameters: tag names, :class:`Tlv` and typed accessors
- :mod:`.codec`    ``encode(pdu) -> bytes`` and the incremental :class:`Decoder`
- :mod:`.receipt`  the customary delivery-receipt text, parsed and formatted
- :mod:`.dialect`  bind states and bind types for the shared session engine
- :mod:`.client`   the carrier client (:func:`open_client`) and :func:`canonical_id`
"""

from duanxin.protocols.smpp.client import SmppAdapter, canonical_id, open_client
from duanxin.protocols.smpp.codec import MAX_PDU_SIZE, Decoder, FrameError, decode, encode
from duanxin.protocols.smpp.dialect import BindType, SmppDialect
from duanxin.protocols.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    CommandId,
    CommandStatus,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    DistributionList,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    MessageState,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SmeAddress,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    UnsuccessSme,
)
from duanxin.protocols.smpp.receipt import DeliveryReceipt, format_receipt, parse_receipt
from duanxin.protocols.smpp.tlv import Tlv, TlvTag

__all__ = [
    "MAX_PDU_SIZE",
    "AlertNotification",
    "BindReceiver",
    "BindReceiverResp",
    "BindTransceiver",
    "BindTransceiverResp",
    "BindTransmitter",
    "BindTransmitterResp",
    "BindType",
    "CancelSm",
    "CancelSmResp",
    "CommandId",
    "CommandStatus",
    "DataSm",
    "DataSmResp",
    "Decoder",
    "DeliverSm",
    "DeliverSmResp",
    "DeliveryReceipt",
    "DistributionList",
    "EnquireLink",
    "EnquireLinkResp",
    "FrameError",
    "GenericNack",
    "MessageState",
    "Outbind",
    "Pdu",
    "QuerySm",
    "QuerySmResp",
    "ReplaceSm",
    "ReplaceSmResp",
    "SmeAddress",
    "SmppAdapter",
    "SmppDialect",
    "SubmitMulti",
    "SubmitMultiResp",
    "SubmitSm",
    "SubmitSmResp",
    "Tlv",
    "TlvTag",
    "Unbind",
    "UnbindResp",
    "UnsuccessSme",
    "canonical_id",
    "decode",
    "encode",
    "format_receipt",
    "open_client",
    "parse_receipt",
]
