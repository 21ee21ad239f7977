"""What the shared session engine needs to know about CMPP, for one connection."""

from __future__ import annotations

from duanxin.protocols.cmpp import pdu as c
from duanxin.protocols.cmpp.auth import negotiated_version
from duanxin.protocols.cmpp.codec import CODEC, Decoder, encode
from duanxin.protocols.cmpp.pdu import CmppVersion, CommandId, Pdu
from duanxin.protocols.core.dialect import Rules, TableDialect
from duanxin.protocols.core.sequence import SequenceCounter
from duanxin.protocols.core.state import Direction, Kind

SEQUENCE_FIRST, SEQUENCE_LAST = 1, 0xFFFFFFFF

RULES: Rules[Pdu] = Rules(
    codec=CODEC,
    encode=encode,
    bind_status="status",
    login=(c.CmppConnect, c.CmppConnectResp),
    logout=(c.CmppTerminate, c.CmppTerminateResp),
    heartbeat=(c.CmppActiveTest, c.CmppActiveTestResp),
    requests=dict.fromkeys((c.CmppSubmit, c.CmppDeliver, c.CmppQuery, c.CmppCancel), Kind.REQUEST),
    responses=(c.CmppSubmitResp, c.CmppDeliverResp, c.CmppQueryResp, c.CmppCancelResp),
    rejects={
        CommandId.CONNECT: (c.CmppConnectResp, "status"),
        CommandId.SUBMIT: (c.CmppSubmitResp, "result"),
        CommandId.DELIVER: (c.CmppDeliverResp, "result"),
        CommandId.CANCEL: (c.CmppCancelResp, "success_id"),
    },
)


class CmppDialect(TableDialect[Pdu]):
    """CMPP for one connection: sequence numbers, heartbeats and the agreed version.

    The version is learned from CONNECT: a server from the one it receives, a client from
    the one it sends. From then on the decoder reads SUBMIT/DELIVER in that layout.
    """

    def __init__(self, version: int = CmppVersion.V30, *, first_sequence: int = SEQUENCE_FIRST):
        self.version: CmppVersion = negotiated_version(version)
        self._decoder = Decoder(self.version)
        counter = SequenceCounter(first=SEQUENCE_FIRST, last=SEQUENCE_LAST, start=first_sequence)
        super().__init__(RULES, self._decoder, counter)

    def observe(self, pdu: Pdu, direction: Direction) -> None:
        if isinstance(pdu, c.CmppConnect):
            self.version = negotiated_version(pdu.version)
            self._decoder.version = self.version

    def answer_fields(self) -> dict[str, object]:
        return {"version": self.version}
