"""CMPP 2.0 / 3.0 (China Mobile): the SP side of the ISMG link, and the login check a server
needs (:mod:`.auth`); a report DELIVER's Msg_Content is read by :mod:`.report`."""

from duanxin.protocols.cmpp import auth, codec, pdu, report
from duanxin.protocols.cmpp.auth import *
from duanxin.protocols.cmpp.client import CmppAdapter, canonical_id, open_client
from duanxin.protocols.cmpp.codec import *
from duanxin.protocols.cmpp.dialect import CmppDialect
from duanxin.protocols.cmpp.pdu import *
from duanxin.protocols.cmpp.report import *

__all__ = (
    *auth.__all__,
    *codec.__all__,
    *pdu.__all__,
    *report.__all__,
    "CmppAdapter",
    "CmppDialect",
    "canonical_id",
    "open_client",
)
