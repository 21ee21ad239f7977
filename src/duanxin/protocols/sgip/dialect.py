"""What the shared session engine needs to know about SGIP, for one connection.

SGIP has no heartbeat: :meth:`SgipDialect.heartbeat` returns ``None`` and sessions run with
``heartbeat_interval=None``; idle links are unbound by the client and bound again on demand.

The dialect never reads the clock. The time part of each sequence triple comes from the
``now`` callable given to the constructor (the client passes a China Standard Time clock,
:func:`duanxin.protocols.sgip.client.china_standard_time`).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime

from duanxin.protocols.core.errors import ProtocolError
from duanxin.protocols.core.sequence import SequenceCounter, with_field
from duanxin.protocols.core.session import Decoder as DecoderProtocol
from duanxin.protocols.core.state import Direction, Kind
from duanxin.protocols.sgip.codec import Decoder, encode
from duanxin.protocols.sgip.pdu import (
    Bind,
    BindResp,
    DeliverResp,
    Pdu,
    ReportResp,
    Result,
    SequenceNumber,
    SubmitResp,
    TraceResp,
    Unbind,
    UnbindResp,
    UserRptResp,
    sequence_time,
)

__all__ = ["COUNTER_MAX", "SgipDialect", "new_counter"]

#: The third part of the triple counts 0, 1, ... COUNTER_MAX and then starts again at 0.
COUNTER_MAX = 0xFFFFFFFF

_RESPONSES = (SubmitResp, DeliverResp, ReportResp, UserRptResp, TraceResp)


def new_counter(start: int = 0) -> SequenceCounter:
    """The third part of a triple: 0, 1, ... COUNTER_MAX, then 0 again."""
    return SequenceCounter(first=0, last=COUNTER_MAX, start=start)


class SgipDialect:
    """SGIP for one connection: kinds, sequence triples, automatic Unbind answers."""

    def __init__(
        self,
        node_id: int,
        now: Callable[[], datetime],
        counter: Callable[[], int] | None = None,
    ) -> None:
        """``counter`` is shared by every connection of one node, so that two links opened
        in the same second never create the same triple; by default each dialect counts
        on its own from 0."""
        self.node_id = node_id
        self.decoder: DecoderProtocol[Pdu] = Decoder()
        self._now = now
        self._counter = counter or new_counter()

    def encode(self, pdu: Pdu) -> bytes:
        return encode(pdu)

    def kind(self, pdu: Pdu) -> Kind:
        if isinstance(pdu, Bind):
            return Kind.BIND
        if isinstance(pdu, BindResp):
            return Kind.BIND_OK if pdu.result == Result.OK else Kind.BIND_REFUSED
        if isinstance(pdu, Unbind):
            return Kind.UNBIND
        if isinstance(pdu, UnbindResp):
            return Kind.UNBIND_RESP
        if isinstance(pdu, _RESPONSES):
            return Kind.RESPONSE
        return Kind.REQUEST

    def sequence(self, pdu: Pdu) -> Hashable:
        """The whole (node, time, counter) triple: responses repeat all 12 bytes."""
        return pdu.sequence

    def next_sequence(self) -> SequenceNumber:
        """A fresh triple created by this node now."""
        return SequenceNumber(self.node_id, sequence_time(self._now()), self._counter())

    def with_next_sequence(self, pdu: Pdu) -> Pdu:
        return with_field(pdu, "sequence", self.next_sequence())

    def heartbeat(self) -> Pdu | None:
        return None

    def answer(self, request: Pdu) -> Pdu | None:
        if isinstance(request, Unbind):
            return UnbindResp(sequence=request.sequence)
        return None

    def unbind(self) -> Pdu:
        return Unbind()

    def observe(self, pdu: Pdu, direction: Direction) -> None:
        """Nothing to learn: SGIP negotiates no version or options at login."""

    def reject(self, error: ProtocolError) -> Pdu | None:
        """SGIP has no generic error PDU: a malformed command just drops the connection."""
        return None
