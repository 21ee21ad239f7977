"""What the service answers, as typed values: every front door renders these its own way.

The HTTP API renders them to the published JSON (:mod:`duanxin.api.render`); nothing
here knows about JSON but the idempotency record of a send outcome (what a repeated
request with the same key is answered from), which is stored, not sent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from duanxin.domain.billing import ChargeType
from duanxin.domain.status import NumberResult, Status, StatusError
from duanxin.domain.wire import json_bytes

__all__ = [
    "BalanceOutcome",
    "PullOutcome",
    "Reply",
    "Report",
    "SendEntry",
    "SendOutcome",
]


@dataclass(frozen=True, slots=True)
class SendEntry:
    """One number of a send: its message id, the number as sent, and its result."""

    mid: str
    mobile: str
    result: NumberResult


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """A send: accepted (``Status.OK``, the balance after the charge, one entry per
    number in request order) or refused (``entries`` is ``None``)."""

    status: Status
    balance: int
    entries: tuple[SendEntry, ...] | None
    msg: str

    @classmethod
    def failure(cls, error: StatusError) -> SendOutcome:
        return cls(error.status, 0, None, error.message)

    def to_record(self) -> bytes:
        """The outcome as stored for idempotent repeats (see :meth:`from_record`)."""
        entries = (
            None
            if self.entries is None
            else [{"mid": e.mid, "mobile": e.mobile, "result": int(e.result)} for e in self.entries]
        )
        return json_bytes(
            {
                "status": str(int(self.status)),
                "balance": self.balance,
                "list": entries,
                "msg": self.msg,
            }
        )

    @classmethod
    def from_record(cls, record: bytes) -> SendOutcome:
        document: dict[str, Any] = json.loads(record)
        listing = document.get("list")
        entries = (
            None
            if listing is None
            else tuple(
                SendEntry(str(e["mid"]), str(e["mobile"]), NumberResult(int(e["result"])))
                for e in listing
            )
        )
        return cls(
            Status(int(document["status"])), int(document["balance"]), entries, str(document["msg"])
        )


@dataclass(frozen=True, slots=True)
class BalanceOutcome:
    """A balance query; ``segments`` is what the content asked about costs per number."""

    status: Status
    balance: int
    charge_type: ChargeType
    msg: str
    segments: int | None = None

    @classmethod
    def failure(cls, error: StatusError) -> BalanceOutcome:
        return cls(error.status, 0, ChargeType.PRECHARGE, error.message)


@dataclass(frozen=True, slots=True)
class Report:
    """A delivery report as the customer pulls it."""

    mid: str
    spid: str
    access_code: str
    mobile: str
    stat: str
    time: datetime


@dataclass(frozen=True, slots=True)
class Reply:
    """A phone's reply (MO) as the customer pulls it."""

    mid: str
    spid: str
    access_code: str
    mobile: str
    content: str
    time: datetime


@dataclass(frozen=True, slots=True)
class PullOutcome:
    """A pull of reports or of replies; ``items`` is ``None`` when refused."""

    status: Status
    balance: int
    items: tuple[Report, ...] | tuple[Reply, ...] | None
    msg: str

    @classmethod
    def failure(cls, error: StatusError) -> PullOutcome:
        return cls(error.status, 0, None, error.message)
