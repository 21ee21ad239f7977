"""What the shared session engine needs to know about SMPP, for one connection.

The generic state table (``core.state``) decides OPEN / BINDING / BOUND / UNBINDING. On top
of it this dialect tracks the *bind type*, because SMPP restricts traffic by it: a receiver
may not submit, a transmitter is never sent deliver_sm, only the SMSC accepts submits. A
request the bind type forbids is answered here with its ``_resp`` and ESME_RINVBNDSTS, and
a bind on an already bound session with ESME_RALYBND, without closing the session.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable
from enum import Enum

from duanxin.protocols.core.errors import LocalProtocolError, ProtocolError
from duanxin.protocols.core.sequence import SequenceCounter, with_field
from duanxin.protocols.core.state import Direction, Kind, Role
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.codec import Decoder, FrameError, encode
from duanxin.protocols.smpp.pdu import CommandId, CommandStatus, Pdu

__all__ = ["BindType", "SmppDialect", "response_to"]

MAX_SEQUENCE = 0x7FFFFFFF


class BindType(Enum):
    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"
    TRANSCEIVER = "transceiver"

    @property
    def can_transmit(self) -> bool:
        """May the ESME send submit_sm (and query/cancel/replace) on this session?"""
        return self is not BindType.RECEIVER

    @property
    def can_receive(self) -> bool:
        """May the SMSC send deliver_sm on this session?"""
        return self is not BindType.TRANSMITTER


BIND_TYPES: dict[CommandId, BindType] = {
    CommandId.BIND_TRANSMITTER: BindType.TRANSMITTER,
    CommandId.BIND_RECEIVER: BindType.RECEIVER,
    CommandId.BIND_TRANSCEIVER: BindType.TRANSCEIVER,
}
_BIND_RESPONSES = frozenset(CommandId[c.name + "_RESP"] for c in BIND_TYPES)

# Requests only an ESME sends (the SMSC answers them), and only on a transmitting bind.
_ESME_REQUESTS = frozenset(
    {
        CommandId.SUBMIT_SM,
        CommandId.SUBMIT_MULTI,
        CommandId.QUERY_SM,
        CommandId.CANCEL_SM,
        CommandId.REPLACE_SM,
    }
)
# Requests only an SMSC sends, and only on a receiving bind.
_SMSC_REQUESTS = frozenset({CommandId.DELIVER_SM, CommandId.ALERT_NOTIFICATION})

_RESPONSE_CLASS: dict[CommandId, type[Pdu]] = {
    CommandId.BIND_TRANSMITTER: p.BindTransmitterResp,
    CommandId.BIND_RECEIVER: p.BindReceiverResp,
    CommandId.BIND_TRANSCEIVER: p.BindTransceiverResp,
    CommandId.QUERY_SM: p.QuerySmResp,
    CommandId.SUBMIT_SM: p.SubmitSmResp,
    CommandId.DELIVER_SM: p.DeliverSmResp,
    CommandId.UNBIND: p.UnbindResp,
    CommandId.REPLACE_SM: p.ReplaceSmResp,
    CommandId.CANCEL_SM: p.CancelSmResp,
    CommandId.ENQUIRE_LINK: p.EnquireLinkResp,
    CommandId.SUBMIT_MULTI: p.SubmitMultiResp,
    CommandId.DATA_SM: p.DataSmResp,
}


def response_to(request: Pdu, status: int = CommandStatus.ESME_ROK) -> Pdu:
    """The (empty) response to ``request`` with ``status``; generic_nack if it has none."""
    cls = _RESPONSE_CLASS.get(request.command_id, p.GenericNack)
    return cls(sequence_number=request.sequence_number, command_status=status)


class _Phase(Enum):
    OPEN = "open"
    BINDING = "binding"
    BOUND = "bound"


class SmppDialect:
    """SMPP for one connection, on the ESME (client) or SMSC (server) side."""

    def __init__(
        self,
        role: Role,
        *,
        start_sequence: int = 1,
        received: Counter[CommandId] | None = None,
    ) -> None:
        self.role = role
        self.decoder = Decoder()
        self.bind_type: BindType | None = None  # set once bound
        # PDUs received, by command; may be shared by several connections.
        self.received: Counter[CommandId] = Counter() if received is None else received
        self._phase = _Phase.OPEN
        self._requested: BindType | None = None
        self._next_sequence = SequenceCounter(first=1, last=MAX_SEQUENCE, start=start_sequence)

    # ------------------------------------------------------------- Dialect

    def encode(self, pdu: Pdu) -> bytes:
        if pdu.command_id in _BIND_RESPONSES and self.role is Role.SERVER:
            # The session does not show the dialect the responses it sends, so the
            # server learns that its bind succeeded here, where every answer passes.
            self._bind_answered(pdu.command_status)
        return encode(pdu)

    def kind(self, pdu: Pdu) -> Kind:
        command = pdu.command_id
        if command in BIND_TYPES:
            return Kind.REQUEST if self._phase is _Phase.BOUND else Kind.BIND
        if command in _BIND_RESPONSES or (
            command is CommandId.GENERIC_NACK and self._phase is _Phase.BINDING
        ):
            if self._phase is _Phase.BOUND:
                return Kind.RESPONSE  # the answer to a repeated bind
            return Kind.BIND_OK if pdu.command_status == 0 else Kind.BIND_REFUSED
        return _KINDS.get(command, Kind.REQUEST)

    def sequence(self, pdu: Pdu) -> Hashable:
        return pdu.sequence_number

    def with_next_sequence(self, pdu: Pdu) -> Pdu:
        self._check_may_send(pdu)
        return with_field(pdu, "sequence_number", self._next_sequence())

    def heartbeat(self) -> Pdu:
        return p.EnquireLink()

    def answer(self, request: Pdu) -> Pdu | None:
        command = request.command_id
        if command is CommandId.ENQUIRE_LINK or command is CommandId.UNBIND:
            return response_to(request)
        if command in BIND_TYPES:
            bound = self._phase is _Phase.BOUND
            return response_to(request, CommandStatus.ESME_RALYBND) if bound else None
        if not self._may_receive(command):
            return response_to(request, CommandStatus.ESME_RINVBNDSTS)
        return None

    def unbind(self) -> Pdu:
        return p.Unbind()

    def observe(self, pdu: Pdu, direction: Direction) -> None:
        command = pdu.command_id
        if direction is Direction.RECEIVE:
            self.received[command] += 1
        if command in BIND_TYPES and self._phase is _Phase.OPEN:
            self._phase = _Phase.BINDING
            self._requested = BIND_TYPES[command]
        elif (
            self._phase is _Phase.BINDING
            and direction is Direction.RECEIVE
            and (command in _BIND_RESPONSES or command is CommandId.GENERIC_NACK)
        ):
            self._bind_answered(pdu.command_status)

    def reject(self, error: ProtocolError) -> Pdu | None:
        if isinstance(error, FrameError):
            return p.GenericNack(
                sequence_number=error.sequence if isinstance(error.sequence, int) else 0,
                command_status=error.status or CommandStatus.ESME_RINVCMDLEN,
            )
        offending = self.decoder.last
        if offending is None or offending.command_id & p.RESPONSE_BIT:
            return None
        # Decoded fine but illegal in this session state (e.g. submit_sm before bind).
        return response_to(offending, CommandStatus.ESME_RINVBNDSTS)

    # ------------------------------------------------------------ bind type

    @property
    def is_bound(self) -> bool:
        return self._phase is _Phase.BOUND

    def _bind_answered(self, status: int) -> None:
        if self._phase is not _Phase.BINDING:
            return
        if status == 0:
            self._phase = _Phase.BOUND
            self.bind_type = self._requested
        else:
            self._phase = _Phase.OPEN

    def _may_receive(self, command: CommandId) -> bool:
        if command in _ESME_REQUESTS:
            return self.role is Role.SERVER and self._transmits()
        if command in _SMSC_REQUESTS:
            return self.role is Role.CLIENT and self._receives()
        return True

    def _check_may_send(self, pdu: Pdu) -> None:
        command = pdu.command_id
        allowed = True
        if command in _ESME_REQUESTS:
            allowed = self.role is Role.CLIENT and self._transmits()
        elif command in _SMSC_REQUESTS:
            allowed = self.role is Role.SERVER and self._receives()
        if not allowed:
            raise LocalProtocolError(
                f"{command.name} not allowed on a {self._bind_name()} session", close=False
            )

    def _transmits(self) -> bool:
        return self.bind_type is not None and self.bind_type.can_transmit

    def _receives(self) -> bool:
        return self.bind_type is not None and self.bind_type.can_receive

    def _bind_name(self) -> str:
        return self.bind_type.value if self.bind_type is not None else "unbound"


_KINDS: dict[CommandId, Kind] = {
    **{command: Kind.RESPONSE for command in CommandId if command & p.RESPONSE_BIT},
    CommandId.UNBIND: Kind.UNBIND,
    CommandId.UNBIND_RESP: Kind.UNBIND_RESP,
    CommandId.ENQUIRE_LINK: Kind.HEARTBEAT,
    CommandId.ENQUIRE_LINK_RESP: Kind.HEARTBEAT_RESP,
}
