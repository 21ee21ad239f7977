"""The legal moves of a carrier session, as one table for all four protocols.

Each protocol's dialect sorts every PDU into a :class:`Kind`. The session looks up who
moves (the side that logs in, or the one that accepts) and the kind in the table of its
state; a missing entry is the violation, whatever the state, bound traffic included.

Two extensions are declared here rather than coded in a dialect: bind *modes* (SMPP's
transmitter / receiver / transceiver binds, SMGP's send / receive / transmit logins),
which decide who may send :attr:`Kind.MT` and :attr:`Kind.MO` once bound; and refusals,
the moves a mode forbids without breaking the link (the request is answered with the
protocol's refusal and the session stays up). CMPP and SGIP bind as transceivers and
sort their traffic as plain :attr:`Kind.REQUEST`, which either side may send.

The session looks a move up in a dict precomputed per (role, state, mode) and keyed by
:class:`Kind`, an ``IntEnum`` (hashed in C), so the lookup costs what a dict lookup costs.
"""

from __future__ import annotations

from enum import Enum, IntEnum, auto

__all__ = ["MODES", "REFUSED", "TABLE", "Direction", "Kind", "Mode", "Role", "State", "moves"]


class Role(Enum):
    CLIENT = auto()  # the side that logs in: SP / ESME (or the SMG on SGIP's reverse link)
    SERVER = auto()  # the side that accepts logins: ISMG / SMGW / SMG / SMSC


class State(Enum):
    OPEN = auto()  # TCP up, not logged in
    BINDING = auto()  # login sent (client) or received (server), answer pending
    BOUND = auto()  # logged in: traffic flows
    UNBINDING = auto()  # logout sent or received, answer pending
    CLOSED = auto()


class Direction(IntEnum):
    SEND = 0
    RECEIVE = 1


class Kind(IntEnum):
    BIND = auto()  # a login for traffic both ways (CMPP, SGIP, SMPP transceiver, SMGP 2)
    BIND_TX = auto()  # a login to send only (SMPP transmitter, SMGP login mode 0)
    BIND_RX = auto()  # a login to receive only (SMPP receiver, SMGP login mode 1)
    BIND_OK = auto()
    BIND_REFUSED = auto()
    UNBIND = auto()
    UNBIND_RESP = auto()
    HEARTBEAT = auto()
    HEARTBEAT_RESP = auto()
    MT = auto()  # a request only the client sends, on a bind that transmits (submit)
    MO = auto()  # a request only the server sends, on a bind that receives (deliver)
    REQUEST = auto()  # a request either side may send
    RESPONSE = auto()
    NACK = auto()  # SMPP's generic_nack: an answer to anything, a refusal of a login


class Mode(Enum):
    """What a login asked for: SMPP's bind type, SMGP's login mode."""

    TRANSCEIVER = "transceiver"
    TRANSMITTER = "transmitter"
    RECEIVER = "receiver"

    @property
    def can_receive(self) -> bool:
        """May the server send :attr:`Kind.MO` on a link bound in this mode?"""
        return (Role.SERVER, Kind.MO) not in REFUSED[self]


CLIENT, SERVER, EITHER = Role.CLIENT, Role.SERVER, None
OPEN, BINDING, BOUND, UNBINDING, CLOSED = State

#: The mode each kind of login asks for.
MODES = {Kind.BIND: Mode.TRANSCEIVER, Kind.BIND_TX: Mode.TRANSMITTER, Kind.BIND_RX: Mode.RECEIVER}

#: state -> {(who moves, kind): next state}; "who moves" is the side that sends the PDU,
#: ``None`` for either side.
TABLE: dict[State, dict[tuple[Role | None, Kind], State]] = {
    OPEN: {
        (CLIENT, Kind.BIND): BINDING,
        (CLIENT, Kind.BIND_TX): BINDING,
        (CLIENT, Kind.BIND_RX): BINDING,
    },
    BINDING: {
        (SERVER, Kind.BIND_OK): BOUND,
        (SERVER, Kind.BIND_REFUSED): CLOSED,
        (SERVER, Kind.NACK): CLOSED,
    },
    BOUND: {
        (CLIENT, Kind.MT): BOUND,
        (SERVER, Kind.MO): BOUND,
        (EITHER, Kind.REQUEST): BOUND,
        (EITHER, Kind.RESPONSE): BOUND,
        (EITHER, Kind.NACK): BOUND,
        (EITHER, Kind.HEARTBEAT): BOUND,
        (EITHER, Kind.HEARTBEAT_RESP): BOUND,
        # A second login on a bound link is answered (SMPP: ESME_RALYBND), nothing more.
        (CLIENT, Kind.BIND): BOUND,
        (CLIENT, Kind.BIND_TX): BOUND,
        (CLIENT, Kind.BIND_RX): BOUND,
        (SERVER, Kind.BIND_REFUSED): BOUND,
        (EITHER, Kind.UNBIND): UNBINDING,
    },
    UNBINDING: {
        # Late answers to what was in flight when the logout started.
        (EITHER, Kind.RESPONSE): UNBINDING,
        (EITHER, Kind.NACK): UNBINDING,
        (EITHER, Kind.HEARTBEAT_RESP): UNBINDING,
        # Both sides may start the logout at once.
        (EITHER, Kind.UNBIND): UNBINDING,
        (EITHER, Kind.UNBIND_RESP): CLOSED,
    },
    CLOSED: {},
}

#: Bound moves each mode refuses: answered with a refusal, the link stays up.
REFUSED: dict[Mode, frozenset[tuple[Role, Kind]]] = {
    Mode.TRANSCEIVER: frozenset(),
    Mode.TRANSMITTER: frozenset({(SERVER, Kind.MO)}),
    Mode.RECEIVER: frozenset({(CLIENT, Kind.MT)}),
}

#: What a move the mode refuses maps to in :func:`moves`.
REFUSE = None


def _moves(role: Role, state: State, mode: Mode) -> tuple[dict[Kind, State | None], ...]:
    by_direction: tuple[dict[Kind, State | None], ...] = ({}, {})
    for (movers, kind), new_state in TABLE[state].items():
        for mover in Role if movers is EITHER else (movers,):
            refused = state is BOUND and (mover, kind) in REFUSED[mode]
            direction = Direction.SEND if mover is role else Direction.RECEIVE
            by_direction[direction][kind] = REFUSE if refused else new_state
    return by_direction


_MOVES = {(r, s, m): _moves(r, s, m) for r in Role for s in State for m in Mode}


def moves(role: Role, state: State, mode: Mode) -> tuple[dict[Kind, State | None], ...]:
    """For ``role`` in ``state`` and ``mode``: per :class:`Direction`, kind -> next state.

    A kind missing from the dict is the violation; one mapped to ``None`` is refused.
    """
    return _MOVES[role, state, mode]
