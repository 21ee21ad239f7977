"""What the shared session engine needs to know about SGIP, for one connection.

SGIP has no heartbeat: sessions run with ``heartbeat_interval=None``, and the client
closes an idle link itself (``SessionConfig.idle_timeout``) and binds again on demand.
Commands flow one way per link (LoginType decides which), so both sides' commands are
plain requests here. SGIP has no generic error PDU: a malformed command just drops the
connection.

The dialect never reads the clock. The time part of each sequence triple comes from the
``now`` callable given to the constructor (the client passes a China Standard Time clock,
:func:`duanxin.protocols.core.clock.china_standard_time`).
"""

from __future__ import annotations

from duanxin.protocols.core.clock import Clock
from duanxin.protocols.core.dialect import Rules, TableDialect
from duanxin.protocols.core.sequence import SequenceCounter, with_field
from duanxin.protocols.core.state import Kind
from duanxin.protocols.sgip import pdu as s
from duanxin.protocols.sgip.codec import CODEC, Decoder
from duanxin.protocols.sgip.pdu import Pdu, SequenceNumber, sequence_time

#: The third part of the triple counts 0, 1, ... COUNTER_MAX and then starts again at 0.
COUNTER_MAX = 0xFFFFFFFF

RULES: Rules[Pdu] = Rules(
    codec=CODEC,
    bind_status="result",
    login=(s.Bind, s.BindResp),
    logout=(s.Unbind, s.UnbindResp),
    requests=dict.fromkeys((s.Submit, s.Deliver, s.Report, s.UserRpt, s.Trace), Kind.REQUEST),
    responses=(s.SubmitResp, s.DeliverResp, s.ReportResp, s.UserRptResp, s.TraceResp),
)


def new_counter(start: int = 0) -> SequenceCounter:
    """The third part of a triple: 0, 1, ... COUNTER_MAX, then 0 again."""
    return SequenceCounter(first=0, last=COUNTER_MAX, start=start)


class SgipDialect(TableDialect[Pdu]):
    """SGIP for one connection: sequence triples made by this node."""

    def __init__(
        self,
        node_id: int,
        now: Clock,
        counter: SequenceCounter | None = None,
    ) -> None:
        """``counter`` is shared by every connection of one node, so that two links opened
        in the same second never create the same triple; by default each dialect counts
        on its own from 0."""
        super().__init__(RULES, Decoder(), counter or new_counter())
        self.node_id = node_id
        self._now = now

    def next_sequence(self) -> SequenceNumber:
        """A fresh triple created by this node now."""
        return SequenceNumber(self.node_id, sequence_time(self._now()), self._next_sequence())

    def with_next_sequence(self, pdu: Pdu) -> Pdu:
        return with_field(pdu, "sequence", self.next_sequence())
