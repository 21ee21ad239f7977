"""The two errors of the policy package.

- :class:`PolicyError` (a ``ValueError``): a *definition* is invalid: a signature, a
  template, a word-file line or a frequency limit submitted by a customer or the operator.
  The REST/CLI layer answers it as bad input; it never concerns a message being sent.
- :class:`PolicyRefusal` (a :class:`~duanxin.domain.status.StatusError`): a *content* is
  refused while sending. It carries the SPEC status (5 for signature, sensitive word and
  opt-out hint; 100 for ``"template mismatch"``) and a one-sentence ``msg`` that never
  echoes the sensitive-word list. Existing handlers of ``StatusError`` answer it as is.
"""

from __future__ import annotations

from duanxin.domain.status import Status, StatusError

__all__ = ["PolicyError", "PolicyRefusal"]


class PolicyError(ValueError):
    """A signature, template, word entry or limit definition is invalid."""


class PolicyRefusal(StatusError):
    """Content refused by policy, with the status and message to answer."""

    def __init__(self, status: Status, msg: str) -> None:
        super().__init__(status, msg)

    @property
    def msg(self) -> str:
        """The ``msg`` field of the response."""
        return self.message
