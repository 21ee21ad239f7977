"""What the shared session engine needs to know about CMPP, for one connection."""

from __future__ import annotations

from duanxin.protocols.cmpp.auth import negotiated_version
from duanxin.protocols.cmpp.codec import Decoder, FrameError, encode
from duanxin.protocols.cmpp.pdu import (
    CmppActiveTest,
    CmppActiveTestResp,
    CmppCancel,
    CmppCancelResp,
    CmppConnect,
    CmppConnectResp,
    CmppConnectStatus,
    CmppDeliver,
    CmppDeliverResp,
    CmppQuery,
    CmppQueryResp,
    CmppSubmit,
    CmppSubmitResp,
    CmppTerminate,
    CmppTerminateResp,
    CmppVersion,
    CommandId,
    Pdu,
)
from duanxin.protocols.core.errors import ProtocolError
from duanxin.protocols.core.sequence import SequenceCounter, with_field
from duanxin.protocols.core.session import Decoder as SessionDecoder
from duanxin.protocols.core.state import Direction, Kind

__all__ = ["SEQUENCE_FIRST", "SEQUENCE_LAST", "CmppDialect"]

SEQUENCE_FIRST, SEQUENCE_LAST = 1, 0xFFFFFFFF

_KINDS: dict[type, Kind] = {
    CmppConnect: Kind.BIND,
    CmppTerminate: Kind.UNBIND,
    CmppTerminateResp: Kind.UNBIND_RESP,
    CmppActiveTest: Kind.HEARTBEAT,
    CmppActiveTestResp: Kind.HEARTBEAT_RESP,
    CmppSubmit: Kind.REQUEST,
    CmppDeliver: Kind.REQUEST,
    CmppQuery: Kind.REQUEST,
    CmppCancel: Kind.REQUEST,
    CmppSubmitResp: Kind.RESPONSE,
    CmppDeliverResp: Kind.RESPONSE,
    CmppQueryResp: Kind.RESPONSE,
    CmppCancelResp: Kind.RESPONSE,
}


class CmppDialect:
    """CMPP for one connection: sequence numbers, heartbeats and the agreed version.

    The version is learned from CONNECT: a server from the one it receives, a client from
    the one it sends. From then on the decoder reads SUBMIT/DELIVER in that layout.
    """

    def __init__(self, version: int = CmppVersion.V30, *, first_sequence: int = SEQUENCE_FIRST):
        self.version: CmppVersion = negotiated_version(version)
        self._decoder = Decoder(self.version)
        self.decoder: SessionDecoder[Pdu] = self._decoder
        self._next_sequence = SequenceCounter(
            first=SEQUENCE_FIRST, last=SEQUENCE_LAST, start=first_sequence
        )

    def encode(self, pdu: Pdu) -> bytes:
        return encode(pdu)

    def kind(self, pdu: Pdu) -> Kind:
        if isinstance(pdu, CmppConnectResp):
            return Kind.BIND_OK if pdu.status == CmppConnectStatus.OK else Kind.BIND_REFUSED
        return _KINDS[type(pdu)]

    def sequence(self, pdu: Pdu) -> int:
        return pdu.sequence_id

    def with_next_sequence(self, pdu: Pdu) -> Pdu:
        return with_field(pdu, "sequence_id", self._next_sequence())

    def heartbeat(self) -> CmppActiveTest:
        return CmppActiveTest()

    def answer(self, request: Pdu) -> Pdu | None:
        if isinstance(request, CmppActiveTest):
            return CmppActiveTestResp(sequence_id=request.sequence_id)
        if isinstance(request, CmppTerminate):
            return CmppTerminateResp(sequence_id=request.sequence_id)
        return None

    def unbind(self) -> CmppTerminate:
        return CmppTerminate()

    def observe(self, pdu: Pdu, direction: Direction) -> None:
        if isinstance(pdu, CmppConnect):
            self.version = negotiated_version(pdu.version)
            self._decoder.version = self.version

    def reject(self, error: ProtocolError) -> Pdu | None:
        """The response to a request whose body was malformed, when one exists."""
        if not isinstance(error, FrameError) or error.status is None:
            return None
        sequence_id, status, version = (
            error.sequence if isinstance(error.sequence, int) else 0,
            error.status,
            self.version,
        )
        command = error.command_id
        if command == CommandId.CONNECT:
            return CmppConnectResp(sequence_id=sequence_id, status=status, version=version)
        if command == CommandId.SUBMIT:
            return CmppSubmitResp(sequence_id=sequence_id, result=status, version=version)
        if command == CommandId.DELIVER:
            return CmppDeliverResp(sequence_id=sequence_id, result=status, version=version)
        if command == CommandId.CANCEL:
            return CmppCancelResp(sequence_id=sequence_id, success_id=status, version=version)
        return None
