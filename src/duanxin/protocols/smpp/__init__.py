"""SMPP 3.4: the ESME side (carrier client) and the codec shared with the simulated SMSC.

- :mod:`.pdu`      command ids, status codes, message states and one dataclass per PDU
- :mod:`.tlv`      optional parameters: tag names, :class:`Tlv` and typed accessors
- :mod:`.codec`    ``encode(pdu) -> bytes`` and the incremental :class:`Decoder`
- :mod:`.receipt`  the customary delivery-receipt text, parsed and formatted
- :mod:`.dialect`  bind states and bind types for the shared session engine
- :mod:`.client`   the carrier client (:func:`open_client`) and :func:`canonical_id`
"""

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
