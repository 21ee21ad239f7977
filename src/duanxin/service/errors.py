"""What an operator action can refuse, typed, so each front door says it its own way.

``NotFound`` (an unknown name: 404 over HTTP), ``Conflict`` (the name is taken: 409),
``Invalid`` (a value not accepted: 422). They subclass LookupError / ValueError, which
older callers catch.
"""

from __future__ import annotations

__all__ = ["AdminError", "Conflict", "Invalid", "NotFound"]


class AdminError(Exception):
    """Base class: ``message`` says what was refused, in one line."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(AdminError, LookupError):
    """No such account, channel, key, token ..."""


class Conflict(AdminError):
    """The name is already taken."""


class Invalid(AdminError, ValueError):
    """A value that is not accepted (``field`` names it when known)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
