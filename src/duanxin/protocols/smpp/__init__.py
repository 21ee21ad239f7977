"""SMPP 3.4: the ESME side (carrier client) and the codec shared with the simulated SMSC;
optional parameters in :mod:`.tlv`, the delivery-receipt text in :mod:`.receipt`."""

from duanxin.protocols.smpp import codec, pdu, receipt, tlv
from duanxin.protocols.smpp.client import SmppAdapter, canonical_id, open_client
from duanxin.protocols.smpp.codec import *
from duanxin.protocols.smpp.dialect import BindType, SmppDialect
from duanxin.protocols.smpp.pdu import *
from duanxin.protocols.smpp.receipt import *
from duanxin.protocols.smpp.tlv import *

__all__ = (
    *codec.__all__,
    *pdu.__all__,
    *receipt.__all__,
    *tlv.__all__,
    "BindType",
    "SmppAdapter",
    "SmppDialect",
    "canonical_id",
    "open_client",
)
