"""What the shared session engine needs to know about SMGP, for one connection."""

from __future__ import annotations

from collections.abc import Hashable

from duanxin.protocols.core.errors import ProtocolError
from duanxin.protocols.core.sequence import SequenceCounter, with_field
from duanxin.protocols.core.session import Decoder as SessionDecoder
from duanxin.protocols.core.state import Direction, Kind
from duanxin.protocols.smgp.codec import Decoder, FrameError, encode
from duanxin.protocols.smgp.pdu import (
    MSG_ID_SIZE,
    CommandId,
    Pdu,
    SmgpActiveTest,
    SmgpActiveTestResp,
    SmgpDeliverResp,
    SmgpExit,
    SmgpExitResp,
    SmgpLoginResp,
    SmgpStatus,
    SmgpSubmitResp,
)

__all__ = ["SmgpDialect"]

MAX_SEQUENCE = 0xFFFFFFFF

_KINDS: dict[CommandId, Kind] = {
    CommandId.LOGIN: Kind.BIND,
    CommandId.EXIT: Kind.UNBIND,
    CommandId.EXIT_RESP: Kind.UNBIND_RESP,
    CommandId.ACTIVE_TEST: Kind.HEARTBEAT,
    CommandId.ACTIVE_TEST_RESP: Kind.HEARTBEAT_RESP,
}


class SmgpDialect:
    """SMGP rules for one connection: PDU kinds, sequence numbers, automatic answers.

    Counts the heartbeats it sees in each direction, which simulators and tests read.
    """

    def __init__(self, *, first_sequence: int = 1) -> None:
        # Typed as the session's protocol: it is a mutable member there, hence invariant.
        self.decoder: SessionDecoder[Pdu] = Decoder()
        # SMGP sequence numbers run over the whole 32-bit range, 0 included, and wrap.
        self._next_sequence = SequenceCounter(first=0, last=MAX_SEQUENCE, start=first_sequence)
        self.heartbeats_sent = 0
        self.heartbeats_received = 0

    def encode(self, pdu: Pdu) -> bytes:
        return encode(pdu)

    def kind(self, pdu: Pdu) -> Kind:
        if isinstance(pdu, SmgpLoginResp):
            return Kind.BIND_OK if pdu.status == SmgpStatus.OK else Kind.BIND_REFUSED
        kind = _KINDS.get(pdu.command)
        if kind is not None:
            return kind
        return Kind.RESPONSE if pdu.command.is_response else Kind.REQUEST

    def sequence(self, pdu: Pdu) -> Hashable:
        return pdu.sequence_id

    def with_next_sequence(self, pdu: Pdu) -> Pdu:
        return with_field(pdu, "sequence_id", self._next_sequence())

    def heartbeat(self) -> Pdu | None:
        return SmgpActiveTest()

    def answer(self, request: Pdu) -> Pdu | None:
        if isinstance(request, SmgpActiveTest):
            return SmgpActiveTestResp(sequence_id=request.sequence_id)
        if isinstance(request, SmgpExit):
            return SmgpExitResp(sequence_id=request.sequence_id)
        return None

    def unbind(self) -> Pdu:
        return SmgpExit()

    def observe(self, pdu: Pdu, direction: Direction) -> None:
        if isinstance(pdu, SmgpActiveTest):
            if direction is Direction.SEND:
                self.heartbeats_sent += 1
            else:
                self.heartbeats_received += 1

    def reject(self, error: ProtocolError) -> Pdu | None:
        """Answer a request with an unreadable body by its response carrying the status.

        SMGP has no generic negative acknowledgement, so only requests whose response has
        a Status field (Login, Submit, Deliver) can be answered; the link closes anyway.
        """
        if not isinstance(error, FrameError) or error.status is None:
            return None
        sequence_id = error.sequence if isinstance(error.sequence, int) else 0
        status = error.status
        if error.command_id == CommandId.SUBMIT:
            return SmgpSubmitResp(sequence_id=sequence_id, msg_id=bytes(MSG_ID_SIZE), status=status)
        if error.command_id == CommandId.DELIVER:
            return SmgpDeliverResp(
                sequence_id=sequence_id, msg_id=bytes(MSG_ID_SIZE), status=status
            )
        if error.command_id == CommandId.LOGIN:
            return SmgpLoginResp(sequence_id=sequence_id, status=status)
        return None
