"""What the shared session engine needs to know about SMGP, for one connection.

A Login's mode is its kind: 0 sends only (Submit from the SP), 1 receives only (Deliver
from the SMGW), 2 both; the session's table refuses the rest, answered with BAD_COMMAND.
"""

from __future__ import annotations

from duanxin.protocols.core.dialect import Rules, TableDialect
from duanxin.protocols.core.sequence import SequenceCounter
from duanxin.protocols.core.state import Direction, Kind
from duanxin.protocols.smgp import pdu as s
from duanxin.protocols.smgp.codec import CODEC, Decoder
from duanxin.protocols.smgp.pdu import CommandId, LoginMode, Pdu, SmgpStatus

MAX_SEQUENCE = 0xFFFFFFFF
_LOGIN_KINDS: dict[int, Kind] = {LoginMode.SEND: Kind.BIND_TX, LoginMode.RECEIVE: Kind.BIND_RX}

RULES: Rules[Pdu] = Rules(
    codec=CODEC,
    bind_status="status",
    login=(s.SmgpLogin, s.SmgpLoginResp),
    logout=(s.SmgpExit, s.SmgpExitResp),
    heartbeat=(s.SmgpActiveTest, s.SmgpActiveTestResp),
    requests={s.SmgpSubmit: Kind.MT, s.SmgpDeliver: Kind.MO, s.SmgpQuery: Kind.MT},
    responses=(s.SmgpSubmitResp, s.SmgpDeliverResp, s.SmgpQueryResp),
    # SMGP has no generic negative acknowledgement: only requests whose response has a
    # Status can be answered (the link closes anyway when the body was unreadable).
    rejects={
        CommandId.LOGIN: (s.SmgpLoginResp, "status"),
        CommandId.SUBMIT: (s.SmgpSubmitResp, "status"),
        CommandId.DELIVER: (s.SmgpDeliverResp, "status"),
    },
    refusal=SmgpStatus.BAD_COMMAND,
)


class SmgpDialect(TableDialect[Pdu]):
    """SMGP rules for one connection; counts the heartbeats it sees in each direction,
    which simulators and tests read."""

    def __init__(self, *, first_sequence: int = 1) -> None:
        # SMGP sequence numbers run over the whole 32-bit range, 0 included, and wrap.
        counter = SequenceCounter(first=0, last=MAX_SEQUENCE, start=first_sequence)
        super().__init__(RULES, Decoder(), counter)
        self.heartbeats_sent = 0
        self.heartbeats_received = 0

    def kind(self, pdu: Pdu) -> Kind:
        if isinstance(pdu, s.SmgpLogin):
            return _LOGIN_KINDS.get(pdu.login_mode, Kind.BIND)
        return super().kind(pdu)

    def observe(self, pdu: Pdu, direction: Direction) -> None:
        if isinstance(pdu, s.SmgpActiveTest):
            if direction is Direction.SEND:
                self.heartbeats_sent += 1
            else:
                self.heartbeats_received += 1
