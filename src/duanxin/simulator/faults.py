"""Fault profiles: the carrier misbehaviour a simulator plays on purpose.

A profile is written as a comma-separated list (``throttle:0.2,enroute,drop-every:500``) and
parsed by :func:`parse_faults` into a frozen :class:`Faults`. Items:

======================  ===================================================================
``throttle:R``          a share R of submits answered with the protocol's flow-control code
``busy:R``              a share R answered with the system-busy / queue-full code
``refuse:R[:CODE]``     a share R refused permanently (default: invalid destination)
``refuse-segment:N``    segment N of every long message refused (flow control) the first
                        time it is submitted; later attempts are accepted
``slow:S``              every submit response sent S seconds late
``silent:R``            a share R of submits never answered (and not received: no report)
``drop-every:N``        after every N-th submit received, the connection is dropped at once
``duplicate-reports``   every report sent twice
``early-reports``       the report for a submit sent (and answered) before its response
``enroute``             an intermediate receipt before each final one
``ack-deliver``         SMPP: an SME delivery ack (esm_class 0x08) and an intermediate
                        notification (0x20) deliver_sm for each submit
``decimal-ids``         SMPP: receipt ids in decimal (submit_sm_resp in hex)
``hex-ids``             SMPP: receipt ids in hex (submit_sm_resp in decimal)
======================  ===================================================================

The shares of throttle, busy, refuse and silent are drawn from one seeded random number per
submit (``SimulatorConfig.seed``), so they never add up to more than 1.

``drop-every``, as a real carrier: the submit that triggers the drop was received (it is
recorded and reported, the report kept until the SP logs in again), and so were the
submits whose responses were still held back (``slow``); submits still unread on the
socket, or read with the triggering one after it, were not.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from enum import Enum
from typing import Any

__all__ = ["Faults", "ReceiptIds", "SubmitFate", "parse_faults"]

_SEPARATOR = ","
_ARGUMENT = ":"


class ReceiptIds(Enum):
    """How an SMPP simulator renders receipt ids relative to its submit_sm_resp ids."""

    SAME = "same"  # both in hex, as the platform renders ids
    DECIMAL = "decimal"  # submit_sm_resp hex, receipt decimal
    HEX = "hex"  # submit_sm_resp decimal, receipt hex


class SubmitFate(Enum):
    """What a fault profile does with one submit."""

    ACCEPT = "accept"
    THROTTLE = "throttle"
    BUSY = "busy"
    REFUSE = "refuse"
    SILENT = "silent"


@dataclass(frozen=True, slots=True)
class Faults:
    """A parsed fault profile; the default is a well-behaved gateway."""

    throttle: float = 0.0
    busy: float = 0.0
    refuse: float = 0.0
    refuse_code: int | None = None  # None: the protocol's invalid-destination code
    refuse_segment: int | None = None
    slow: float = 0.0
    silent: float = 0.0
    drop_every: int | None = None
    duplicate_reports: bool = False
    early_reports: bool = False
    enroute: bool = False
    ack_deliver: bool = False
    receipt_ids: ReceiptIds = ReceiptIds.SAME

    @property
    def any(self) -> bool:
        """True unless this is the well-behaved default."""
        return self != Faults()

    def fate(self, draw: float) -> SubmitFate:
        """The fate of a submit given one uniform draw in [0, 1)."""
        threshold = 0.0
        for fate, share in (
            (SubmitFate.THROTTLE, self.throttle),
            (SubmitFate.BUSY, self.busy),
            (SubmitFate.REFUSE, self.refuse),
            (SubmitFate.SILENT, self.silent),
        ):
            threshold += share
            if draw < threshold:
                return fate
        return SubmitFate.ACCEPT

    def __str__(self) -> str:
        return _render(self)


def parse_faults(text: str) -> Faults:
    """Parse a comma-separated fault profile; raise ValueError naming the bad item.

    An empty string is the default profile. Unknown names, missing or extra arguments,
    shares outside 0..1 (or adding up to more than 1), and non-positive counts are errors.
    """
    faults = Faults()
    seen: set[str] = set()
    for raw in text.split(_SEPARATOR):
        item = raw.strip()
        if not item:
            continue
        name, *arguments = item.split(_ARGUMENT)
        name = name.strip().lower()
        parser = _ITEMS.get(name)
        if parser is None:
            known = ", ".join(sorted(_ITEMS))
            raise ValueError(f"unknown fault {item!r}; known faults: {known}")
        if name in seen:
            raise ValueError(f"fault {name!r} given twice")
        seen.add(name)
        try:
            changes = parser([a.strip() for a in arguments])
        except ValueError as error:
            raise ValueError(f"bad fault {item!r}: {error}") from None
        faults = replace(faults, **changes)
    if {"decimal-ids", "hex-ids"} <= seen:
        raise ValueError("faults 'decimal-ids' and 'hex-ids' exclude each other")
    total = faults.throttle + faults.busy + faults.refuse + faults.silent
    if total > 1.0 + 1e-9:
        raise ValueError(f"shares of throttle, busy, refuse and silent add up to {total:g} > 1")
    return faults


# ---------------------------------------------------------------- item parsers

_Parser = Callable[[list[str]], dict[str, Any]]


def _arity(arguments: list[str], least: int, most: int) -> None:
    if not least <= len(arguments) <= most:
        wanted = str(least) if least == most else f"{least} to {most}"
        raise ValueError(f"takes {wanted} argument(s), got {len(arguments)}")


def _share(value: str) -> float:
    try:
        share = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number") from None
    if not (math.isfinite(share) and 0.0 <= share <= 1.0):
        raise ValueError(f"share {value!r} must be between 0 and 1")
    return share


def _count(value: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a whole number") from None
    if count < 1:
        raise ValueError(f"{value!r} must be 1 or more")
    return count


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"{value!r} is not a number of seconds") from None
    if not (math.isfinite(seconds) and seconds >= 0.0):
        raise ValueError(f"{value!r} must be 0 or more seconds")
    return seconds


def _code(value: str) -> int:
    try:
        code = int(value, 0)  # 13, 0x0B
    except ValueError:
        raise ValueError(f"{value!r} is not a result code") from None
    if not 0 < code <= 0xFFFFFFFF:
        raise ValueError(f"result code {value!r} must be a non-zero 32-bit value")
    return code


def _share_of(field: str) -> _Parser:
    def parse(arguments: list[str]) -> dict[str, Any]:
        _arity(arguments, 1, 1)
        return {field: _share(arguments[0])}

    return parse


def _flag(field: str, value: object = True) -> _Parser:
    def parse(arguments: list[str]) -> dict[str, Any]:
        _arity(arguments, 0, 0)
        return {field: value}

    return parse


def _refuse(arguments: list[str]) -> dict[str, Any]:
    _arity(arguments, 1, 2)
    changes: dict[str, Any] = {"refuse": _share(arguments[0])}
    if len(arguments) == 2:
        changes["refuse_code"] = _code(arguments[1])
    return changes


def _refuse_segment(arguments: list[str]) -> dict[str, Any]:
    _arity(arguments, 1, 1)
    return {"refuse_segment": _count(arguments[0])}


def _slow(arguments: list[str]) -> dict[str, Any]:
    _arity(arguments, 1, 1)
    return {"slow": _seconds(arguments[0])}


def _drop_every(arguments: list[str]) -> dict[str, Any]:
    _arity(arguments, 1, 1)
    return {"drop_every": _count(arguments[0])}


_ITEMS: dict[str, _Parser] = {
    "throttle": _share_of("throttle"),
    "busy": _share_of("busy"),
    "refuse": _refuse,
    "refuse-segment": _refuse_segment,
    "slow": _slow,
    "silent": _share_of("silent"),
    "drop-every": _drop_every,
    "duplicate-reports": _flag("duplicate_reports"),
    "early-reports": _flag("early_reports"),
    "enroute": _flag("enroute"),
    "ack-deliver": _flag("ack_deliver"),
    "decimal-ids": _flag("receipt_ids", ReceiptIds.DECIMAL),
    "hex-ids": _flag("receipt_ids", ReceiptIds.HEX),
}


def _render(faults: Faults) -> str:
    """The profile as :func:`parse_faults` reads it (round trip)."""
    default = Faults()
    items: list[str] = []
    for field in fields(Faults):
        value = getattr(faults, field.name)
        if value == getattr(default, field.name) or field.name == "refuse_code":
            continue
        name = field.name.replace("_", "-")
        if field.name == "receipt_ids":
            items.append(f"{value.value}-ids")
        elif value is True:
            items.append(name)
        elif field.name == "refuse" and faults.refuse_code is not None:
            items.append(f"refuse:{value:g}:{faults.refuse_code}")
        else:
            items.append(f"{name}:{value:g}")
    return _SEPARATOR.join(items)
