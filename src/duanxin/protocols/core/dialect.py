"""A session dialect from declarations: what a protocol tells the shared session.

Each protocol declares :class:`Rules` (its login, logout and heartbeat pairs, the kind
of every other PDU class, the answer to a malformed or refused request) and subclasses
:class:`TableDialect` only for what data cannot say (CMPP learning its version, SMGP
counting heartbeats, SMPP's second-bind answer).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from duanxin.protocols.core.codec import Codec, Decoder
from duanxin.protocols.core.errors import ProtocolError, RemoteProtocolError
from duanxin.protocols.core.sequence import SequenceCounter, with_field
from duanxin.protocols.core.state import Direction, Kind
from duanxin.protocols.core.table import FrameError

__all__ = ["Rules", "TableDialect"]

P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Rules(Generic[P]):
    """One protocol's declarations for the session.

    ``login``, ``logout`` and ``heartbeat`` are (request, response) pairs: the session
    sends the requests itself and answers a peer's logout and heartbeat on its own.
    ``requests`` gives every other request its kind, and may override any (SMPP's bind
    types, generic_nack). A login answer is BIND_OK, or refused when its ``bind_status`` is
    not 0.
    """

    codec: Codec[P]
    bind_status: str
    login: tuple[type[P], type[P]]
    logout: tuple[type[P], type[P]]
    requests: Mapping[type[P], Kind]
    responses: tuple[type[P], ...]
    heartbeat: tuple[type[P], type[P]] | None = None
    #: command id -> (response class, its status field): what a malformed or refused
    #: request is answered with, when the protocol answers it at all.
    rejects: Mapping[int, tuple[Callable[..., P], str]] = field(default_factory=dict)
    refusal: int | None = None  # the status that refuses a request the session forbids
    #: The protocol's own encoder where it is more than the codec's (CMPP's picks the
    #: layout by version, SMPP's sends error responses bare).
    encode: Callable[[P], bytes] | None = None
    #: The header's last field: every protocol's sequence number.
    sequence_field: str = field(init=False)
    kinds: dict[type[P], Kind] = field(init=False)
    answers: dict[type[P], Callable[..., P]] = field(init=False)

    def __post_init__(self) -> None:
        kinds: dict[type[P], Kind] = dict.fromkeys(self.responses, Kind.RESPONSE)
        kinds.update(zip(self.login, (Kind.BIND, Kind.BIND_OK), strict=True))
        kinds.update(zip(self.logout, (Kind.UNBIND, Kind.UNBIND_RESP), strict=True))
        answers: dict[type[P], Callable[..., P]] = dict((self.logout,))
        if self.heartbeat is not None:
            kinds.update(zip(self.heartbeat, (Kind.HEARTBEAT, Kind.HEARTBEAT_RESP), strict=True))
            answers.update((self.heartbeat,))
        kinds.update(self.requests)
        object.__setattr__(self, "sequence_field", self.codec.header.names[-1])
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "answers", answers)


class TableDialect(Generic[P]):
    """A :class:`~duanxin.protocols.core.session.Dialect` run from :class:`Rules`."""

    def __init__(self, rules: Rules[P], decoder: Decoder[P], counter: SequenceCounter) -> None:
        self.rules = rules
        self.decoder = decoder
        self.encode = rules.encode or rules.codec.encode
        self._kinds = rules.kinds
        self._next_sequence = counter
        self.sequence: Callable[[P], Hashable] = operator.attrgetter(rules.sequence_field)
        self._bind_status = operator.attrgetter(rules.bind_status)
        self._classes = rules.codec.by_class[None]

    def kind(self, pdu: P) -> Kind:
        kind = self._kinds[type(pdu)]
        if kind is Kind.BIND_OK and self._bind_status(pdu) != 0:
            return Kind.BIND_REFUSED
        return kind

    def with_next_sequence(self, pdu: P) -> P:
        return with_field(pdu, self.rules.sequence_field, self._next_sequence())

    def heartbeat(self) -> P | None:
        pair = self.rules.heartbeat
        return None if pair is None else pair[0]()

    def answer(self, request: P) -> P | None:
        make = self.rules.answers.get(type(request))
        if make is None:
            return None
        return make(**{self.rules.sequence_field: self.sequence(request)})

    def unbind(self) -> P:
        return self.rules.logout[0]()

    def observe(self, pdu: P, direction: Direction) -> None:
        """Nothing to learn by default."""

    def reject(self, error: ProtocolError) -> P | None:
        """The answer to a malformed request, or to one the session refused, if any."""
        if isinstance(error, FrameError):
            command, sequence, status = error.command_id, error.sequence, error.status
        elif isinstance(error, RemoteProtocolError) and self.decoder.last is not None:
            offending = self.decoder.last
            command = self._classes[type(offending)].command_id
            sequence, status = self.sequence(offending), self.rules.refusal
        else:
            return None
        entry = self.rules.rejects.get(command) if command is not None else None
        if entry is None or status is None or sequence is None:
            return None
        make, status_field = entry
        return make(
            **{self.rules.sequence_field: sequence, status_field: status}, **self.answer_fields()
        )

    def answer_fields(self) -> dict[str, object]:
        """Fields every answer built by :meth:`reject` carries (CMPP: its version)."""
        return {}
