"""The exception tree of the protocol stack.

ProtocolError                 anything that breaks a protocol's rules
├── LocalProtocolError        we were asked to do something the protocol forbids
│                             (encode an over-long field, send before login, window full)
└── RemoteProtocolError       the peer sent something the protocol forbids
                              (bad length, unknown command, truncated body)

Each error carries ``status``: the protocol's own result code to answer with, when the
protocol has one for this fault, and ``close``: whether the connection must be dropped
(true for anything that breaks framing, since the byte stream can no longer be trusted).
"""

from __future__ import annotations

__all__ = ["LocalProtocolError", "ProtocolError", "RemoteProtocolError"]


class ProtocolError(Exception):
    """A violation of a carrier protocol."""

    def __init__(self, message: str, *, status: int | None = None, close: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.close = close


class LocalProtocolError(ProtocolError):
    """Our side tried to do something the protocol does not allow."""


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes or a PDU that the protocol does not allow."""
