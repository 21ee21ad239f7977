"""The status report carried in a DELIVER's Msg_Content (Registered_Delivery = 1).

60 bytes in 2.0, 71 in 3.0 (the handset number slot is 21 or 32 bytes). The report's
``msg_id`` is the Msg_Id of the SUBMIT_RESP being reported, not the DELIVER's own.
"""

from __future__ import annotations

from typing import Annotated

from duanxin.protocols.cmpp.pdu import STAT_SIZE, CmppVersion, Layout, MsgId, Terminal, layout_of
from duanxin.protocols.core.errors import RemoteProtocolError
from duanxin.protocols.core.table import U32, Block, Frozen, Text, table_of

__all__ = ["CmppStatusReport"]

ReportTime = Annotated[str, Text(10)]  # YYMMDDHHMM


class CmppStatusReport(Frozen):
    """A delivery outcome. ``stat`` is the 7-character state; only ``DELIVRD`` is success."""

    version: Layout = CmppVersion.V30
    msg_id: MsgId
    stat: Annotated[str, Text(STAT_SIZE)]
    submit_time: ReportTime = ""
    done_time: ReportTime = ""
    dest_terminal_id: Terminal = ""
    smsc_sequence: Annotated[int, U32] = 0

    def encode(self) -> bytes:
        """The Msg_Content bytes in this report's layout."""
        return _BLOCKS[layout_of(self.version)].pack(self)

    @classmethod
    def decode(cls, content: bytes) -> CmppStatusReport:
        """Read a report; its length (60 or 71) tells the layout."""
        block = _BY_SIZE.get(len(content))
        if block is None:
            sizes = " or ".join(str(size) for size in _BY_SIZE)
            raise RemoteProtocolError(f"status report is {len(content)} bytes, not {sizes}")
        return block.unpack(content)


_LAYOUTS = (CmppVersion.V20, CmppVersion.V30)
_BLOCKS = {v: Block(CmppStatusReport, table_of(CmppStatusReport, v)) for v in _LAYOUTS}
_BY_SIZE = {block.size: block for block in _BLOCKS.values()}
