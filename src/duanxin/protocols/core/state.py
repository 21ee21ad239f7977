"""The legal moves of a carrier session, as one table for all four protocols.

Each protocol's dialect sorts every PDU into a :class:`Kind` (a bind, its response, a
heartbeat, ordinary traffic...). The session then looks up ``(role, state, direction, kind)``
here; a missing entry is the violation. The four protocols differ in their PDUs, not in the
shape of their sessions, so one table serves them all.
"""

from __future__ import annotations

from enum import Enum, auto

__all__ = ["Direction", "Kind", "Role", "State", "next_state"]


class Role(Enum):
    CLIENT = auto()  # the side that logs in: SP / ESME (or the SMG on SGIP's reverse link)
    SERVER = auto()  # the side that accepts logins: ISMG / SMGW / SMG / SMSC


class State(Enum):
    OPEN = auto()  # TCP up, not logged in
    BINDING = auto()  # login sent (client) or received (server), answer pending
    BOUND = auto()  # logged in: traffic flows
    UNBINDING = auto()  # logout sent or received, answer pending
    CLOSED = auto()


class Direction(Enum):
    SEND = auto()
    RECEIVE = auto()


class Kind(Enum):
    BIND = auto()
    BIND_OK = auto()
    BIND_REFUSED = auto()
    UNBIND = auto()
    UNBIND_RESP = auto()
    HEARTBEAT = auto()
    HEARTBEAT_RESP = auto()
    REQUEST = auto()
    RESPONSE = auto()


_TRAFFIC = (Kind.REQUEST, Kind.RESPONSE, Kind.HEARTBEAT, Kind.HEARTBEAT_RESP)
_S, _R = Direction.SEND, Direction.RECEIVE


def _table() -> dict[tuple[Role, State, Direction, Kind], State]:
    table: dict[tuple[Role, State, Direction, Kind], State] = {}
    client, server = Role.CLIENT, Role.SERVER
    table[client, State.OPEN, _S, Kind.BIND] = State.BINDING
    table[client, State.BINDING, _R, Kind.BIND_OK] = State.BOUND
    table[client, State.BINDING, _R, Kind.BIND_REFUSED] = State.CLOSED
    table[server, State.OPEN, _R, Kind.BIND] = State.BINDING
    table[server, State.BINDING, _S, Kind.BIND_OK] = State.BOUND
    table[server, State.BINDING, _S, Kind.BIND_REFUSED] = State.CLOSED
    for role in Role:
        for direction in Direction:
            for kind in _TRAFFIC:
                table[role, State.BOUND, direction, kind] = State.BOUND
            # Late answers to what was in flight when the logout started.
            table[role, State.UNBINDING, direction, Kind.RESPONSE] = State.UNBINDING
            table[role, State.UNBINDING, direction, Kind.HEARTBEAT_RESP] = State.UNBINDING
        table[role, State.BOUND, _S, Kind.UNBIND] = State.UNBINDING
        table[role, State.BOUND, _R, Kind.UNBIND] = State.UNBINDING
        table[role, State.UNBINDING, _R, Kind.UNBIND_RESP] = State.CLOSED
        table[role, State.UNBINDING, _S, Kind.UNBIND_RESP] = State.CLOSED
        # Both sides may start the logout at once.
        table[role, State.UNBINDING, _R, Kind.UNBIND] = State.UNBINDING
    return table


_TRANSITIONS = _table()


def next_state(role: Role, state: State, direction: Direction, kind: Kind) -> State | None:
    """The state after ``role`` in ``state`` sends or receives a PDU of ``kind``.

    ``None`` means the move is illegal in that state.
    """
    return _TRANSITIONS.get((role, state, direction, kind))
