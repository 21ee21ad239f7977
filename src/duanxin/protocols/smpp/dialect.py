"""What the shared session engine needs to know about SMPP, for one connection.

The bind type is the login's kind (transmitter, receiver, transceiver): the session's
state table then refuses what the bind type forbids (a receiver may not submit, a
transmitter is sent no deliver_sm), and only the ESME submits, only the SMSC delivers.
A refused request is answered with its ``_resp`` and ESME_RINVBNDSTS, a bind on a bound
session with ESME_RALYBND, without closing the session; a PDU that cannot be decoded
gets a generic_nack, and the session closes.
"""

from __future__ import annotations

import typing
from collections import Counter

from duanxin.protocols.core.dialect import Rules, TableDialect
from duanxin.protocols.core.errors import ProtocolError
from duanxin.protocols.core.sequence import SequenceCounter
from duanxin.protocols.core.state import MODES, Direction, Kind, Mode, Role
from duanxin.protocols.core.table import FrameError
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.codec import CODEC, Decoder, encode
from duanxin.protocols.smpp.pdu import CommandId, CommandStatus, Pdu

MAX_SEQUENCE = 0x7FFFFFFF
#: The bind an ESME asked for: what it may send and be sent (the session's login mode).
BindType = Mode
_BY_ID: dict[int, type[Pdu]] = {cls.command_id: cls for cls in typing.get_args(Pdu)}
#: Each request's response (generic_nack for those without one).
RESPONSES: dict[int, type[Pdu]] = {
    command: _BY_ID.get(command | p.RESPONSE_BIT, p.GenericNack)
    for command in _BY_ID
    if not command & p.RESPONSE_BIT
}

RULES: Rules[Pdu] = Rules(
    codec=CODEC,
    encode=encode,
    bind_status="command_status",
    login=(p.BindTransceiver, p.BindTransceiverResp),
    logout=(p.Unbind, p.UnbindResp),
    heartbeat=(p.EnquireLink, p.EnquireLinkResp),
    requests={
        # Only the ESME sends these, and only on a transmitting bind.
        **dict.fromkeys((p.SubmitSm, p.SubmitMulti, p.QuerySm, p.CancelSm, p.ReplaceSm), Kind.MT),
        # Only the SMSC sends these, and only on a receiving bind.
        p.DeliverSm: Kind.MO,
        p.AlertNotification: Kind.MO,
        p.DataSm: Kind.REQUEST,
        p.Outbind: Kind.REQUEST,
        # Not the pairs' kinds: binds ask for a mode, any answer may be a generic_nack.
        p.GenericNack: Kind.NACK,
        p.BindTransmitter: Kind.BIND_TX,
        p.BindReceiver: Kind.BIND_RX,
        **dict.fromkeys(p.BIND_RESPONSE.values(), Kind.BIND_OK),
    },
    responses=tuple(RESPONSES.values()),
    rejects={command: (cls, "command_status") for command, cls in RESPONSES.items()},
    refusal=CommandStatus.ESME_RINVBNDSTS,
)
#: Each bind's class by the bind type it asks for, and the bind type of each bind command.
BIND_CLASSES: dict[BindType, type[p.Bind]] = {
    MODES[RULES.kinds[cls]]: cls for cls in (p.BindTransmitter, p.BindReceiver, p.BindTransceiver)
}
BIND_TYPES: dict[int, BindType] = {cls.command_id: mode for mode, cls in BIND_CLASSES.items()}


def response_to(request: Pdu, status: int = CommandStatus.ESME_ROK) -> Pdu:
    """The (empty) response to ``request`` with ``status``; generic_nack if it has none."""
    cls = RESPONSES.get(request.command_id, p.GenericNack)
    return cls(sequence_number=request.sequence_number, command_status=status)


class SmppDialect(TableDialect[Pdu]):
    """SMPP for one connection, on the ESME (client) or SMSC (server) side."""

    def __init__(
        self,
        role: Role,
        *,
        start_sequence: int = 1,
        received: Counter[CommandId] | None = None,
    ) -> None:
        counter = SequenceCounter(first=1, last=MAX_SEQUENCE, start=start_sequence)
        super().__init__(RULES, Decoder(), counter)
        self.role = role
        self.bind_type: BindType | None = None  # set once bound
        # PDUs received, by command; may be shared by several connections.
        self.received: Counter[CommandId] = Counter() if received is None else received
        self._requested: BindType | None = None

    def answer(self, request: Pdu) -> Pdu | None:
        if request.command_id in BIND_TYPES:
            bound = self.bind_type is not None  # else the application answers the login
            return response_to(request, CommandStatus.ESME_RALYBND) if bound else None
        return super().answer(request)

    def observe(self, pdu: Pdu, direction: Direction) -> None:
        if direction is Direction.RECEIVE:
            self.received[pdu.command_id] += 1
        requested = BIND_TYPES.get(pdu.command_id)
        if requested is not None and self.bind_type is None:
            self._requested = requested
        elif self._kinds[type(pdu)] is Kind.BIND_OK and pdu.command_status == 0:
            self.bind_type = self.bind_type or self._requested

    def reject(self, error: ProtocolError) -> Pdu | None:
        if isinstance(error, FrameError):
            sequence = error.sequence if isinstance(error.sequence, int) else 0
            status = error.status or CommandStatus.ESME_RINVCMDLEN
            return p.GenericNack(sequence_number=sequence, command_status=status)
        return super().reject(error)  # a refused request: its _resp (responses have none)
