"""China Telecom SMGP 3.0; its own modules beside the common four: :mod:`.auth` (login
digests), :mod:`.report` (the report inside a Deliver), :mod:`.msgid` (BCD MsgIDs)."""

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
