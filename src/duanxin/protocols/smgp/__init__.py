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
from duanxin.protocols.smgp import auth, codec, msgid, pdu, report
from duanxin.protocols.smgp.auth import *
from duanxin.protocols.smgp.client import SmgpAdapter, open_client
from duanxin.protocols.smgp.codec import *
from duanxin.protocols.smgp.dialect import SmgpDialect
from duanxin.protocols.smgp.msgid import *
from duanxin.protocols.smgp.pdu import *
from duanxin.protocols.smgp.report import *

__all__ = (
    *auth.__all__,
    *codec.__all__,
    *msgid.__all__,
    *pdu.__all__,
    *report.__all__,
    "SmgpAdapter",
    "SmgpDialect",
    "find_tlv",
    "open_client",
    "tlv_int",
)
