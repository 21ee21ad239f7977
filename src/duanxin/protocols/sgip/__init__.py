"""SGIP 1.2, China Unicom's SP <-> SMG protocol: sans-IO codec, session dialect, client.

SGIP links carry commands one way only: the SP binds to the SMG (LoginType 1) to Submit,
and the SMG binds to a listener the SP runs (LoginType 2) to push Deliver (MO) and Report.
:func:`open_client` returns a client that runs both. A submitted segment is identified by
its Submit's header sequence triple; see :func:`canonical_id`.
"""

from duanxin.protocols.sgip import codec, pdu
from duanxin.protocols.sgip.client import SgipAdapter, SgipClient, canonical_id, open_client
from duanxin.protocols.sgip.codec import *
from duanxin.protocols.sgip.dialect import SgipDialect
from duanxin.protocols.sgip.pdu import *

__all__ = (
    *codec.__all__,
    *pdu.__all__,
    "SgipAdapter",
    "SgipClient",
    "SgipDialect",
    "canonical_id",
    "open_client",
)
