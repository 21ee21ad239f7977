"""The status report carried in a DELIVER's Msg_Content (Registered_Delivery = 1).

60 bytes in 2.0, 71 in 3.0 (the handset number slot is 21 or 32 bytes). The report's
``msg_id`` is the Msg_Id of the SUBMIT_RESP being reported, not the DELIVER's own.
"""

from __future__ import annotations

from dataclasses import dataclass

from duanxin.protocols.cmpp.pdu import (
    REPORT_TIME_SIZE,
    STAT_SIZE,
    TERMINAL_ID_SIZE,
    CmppVersion,
    layout_of,
)
from duanxin.protocols.core.codec import Block
from duanxin.protocols.core.errors import RemoteProtocolError
from duanxin.protocols.core.table import U32, U64, Absent, Text

__all__ = ["CmppStatusReport"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CmppStatusReport:
    """A delivery outcome. ``stat`` is the 7-character state; only ``DELIVRD`` is success."""

    version: int = CmppVersion.V30
    msg_id: int
    stat: str
    submit_time: str = ""  # YYMMDDHHMM
    done_time: str = ""  # YYMMDDHHMM
    dest_terminal_id: str = ""
    smsc_sequence: int = 0

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


_BLOCKS = {
    version: Block(
        CmppStatusReport,
        (
            ("version", Absent(version, checked=False)),
            ("msg_id", U64),
            ("stat", Text(STAT_SIZE)),
            ("submit_time", Text(REPORT_TIME_SIZE)),
            ("done_time", Text(REPORT_TIME_SIZE)),
            ("dest_terminal_id", Text(TERMINAL_ID_SIZE[version])),
            ("smsc_sequence", U32),
        ),
    )
    for version in (CmppVersion.V20, CmppVersion.V30)
}
#: Msg_Length of a report DELIVER in each layout.
REPORT_SIZE = {version: block.size for version, block in _BLOCKS.items()}
_BY_SIZE = {block.size: block for block in _BLOCKS.values()}
