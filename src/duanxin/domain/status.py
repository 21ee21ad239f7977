"""The platform's status codes (SPEC 2.3) and its own report stats, in one table."""

from __future__ import annotations

from enum import IntEnum, StrEnum

from duanxin.domain.numbers import MAX_NUMBERS

__all__ = [
    "CARRIER_STAT_PREFIXES",
    "DELIVERED",
    "DxStat",
    "NumberResult",
    "Status",
    "StatusError",
    "carrier_stat",
]


class Status(IntEnum):
    """The ``status`` of every HTTP response (and the customer CMPP server's results)."""

    OK = 0
    MALFORMED = 1
    IP_NOT_ALLOWED = 2
    WRONG_ACCOUNT = 3
    VERSION = 4
    OTHER = 5
    ACCESS_POINT = 6
    ACCOUNT_STATE = 7
    TOO_MANY_CONNECTIONS = 21
    INTERNAL = 100
    TOO_MANY_NUMBERS = 102

    @property
    def default_message(self) -> str:
        return _MESSAGES[self]


_MESSAGES = {
    Status.OK: "ok",
    Status.MALFORMED: "malformed request",
    Status.IP_NOT_ALLOWED: "caller IP not allowed for this account",
    Status.WRONG_ACCOUNT: "wrong account or password",
    Status.VERSION: "unsupported version",
    Status.OTHER: "request refused",
    Status.ACCESS_POINT: "this account may not use this interface",
    Status.ACCOUNT_STATE: "account is disabled, frozen or expired",
    Status.TOO_MANY_CONNECTIONS: "too many concurrent requests for this account",
    Status.INTERNAL: "internal error",
    Status.TOO_MANY_NUMBERS: f"too many numbers: at most {MAX_NUMBERS} per request",
}


class StatusError(Exception):
    """A request refused with a SPEC status code and a one-sentence reason."""

    def __init__(self, status: Status, message: str | None = None) -> None:
        super().__init__(message or status.default_message)
        self.status = status
        self.message = message or status.default_message


class NumberResult(IntEnum):
    """The per-number ``result`` of a send (``/smssend``'s list; SPEC 2.4)."""

    ACCEPTED = 0
    INVALID = 1
    REFUSED = 5  # blacklisted, opted out or frequency-limited
    NO_CHANNEL = 100


class DxStat(StrEnum):
    """The platform's own 7-character report stats, for numbers it never handed a carrier."""

    INVALID_NUMBER = "DX:0001"
    REFUSED = "DX:0005"  # blacklisted, opted out or frequency-limited
    NO_CHANNEL = "DX:0100"  # no channel for the carrier, or no channel up to take it
    NO_RESPONSE = "DX:0101"  # every try went unanswered within the response timeout
    LINK_LOST = "DX:0102"  # the link dropped with the submit in its window, every try
    UNKNOWN = "UNKNOWN"  # no report from the carrier within the report window

    @classmethod
    def for_result(cls, result: int) -> DxStat:
        """The report stat for a per-number ``result`` code of ``/smssend``."""
        return _STAT_FOR_RESULT.get(result, cls.NO_CHANNEL)


_STAT_FOR_RESULT: dict[int, DxStat] = {
    NumberResult.INVALID: DxStat.INVALID_NUMBER,
    NumberResult.REFUSED: DxStat.REFUSED,
}

#: The report stat of a delivered message (every protocol's receipt text).
DELIVERED = "DELIVRD"


#: The prefix of a report stat that carries a carrier's refusal of a submit (see
#: :func:`carrier_stat`).
CARRIER_STAT_PREFIXES = {"cmpp": "CM", "sgip": "SG", "smgp": "SM", "smpp": "SP"}


def carrier_stat(protocol: str, status: int) -> str:
    """The 7-character report stat for a submit the carrier refused with ``status``.

    ``CM:0008`` (CMPP Result 8), ``SG:0011`` (SGIP Result 11), ``SM:0001`` (SMGP Status 1):
    the code in decimal, as those protocols' notes write it. ``SP:0058`` (SMPP
    ESME_RTHROTTLED 0x58): hex, as SMPP writes its command_status, the low four digits.
    """
    prefix = CARRIER_STAT_PREFIXES.get(protocol, "DX")
    if protocol == "smpp":
        return f"{prefix}:{status & 0xFFFF:04X}"
    return f"{prefix}:{status % 10000:04d}"
