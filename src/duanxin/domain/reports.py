"""Report logic: carrier-id renderings, one report per long message, reply routing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum

from duanxin.domain.status import DELIVERED

__all__ = [
    "LongReport",
    "carrier_id_variants",
    "final_stat",
    "is_final_stat",
    "is_opt_out",
    "normalise_carrier_id",
    "route_reply",
]

OPT_OUT_WORDS = frozenset({"TD", "T", "N", "0000", "退订"})
_BINARY_ID_PROTOCOLS = frozenset({"cmpp", "smgp", "sgip"})

ENROUTE, ACCEPTED = "ENROUTE", "ACCEPTD"
#: Receipt stat texts that say "not there yet" rather than how a message ended, per
#: protocol, as the protocol notes document them: SMPP §7.3 marks ENROUTE "not final";
#: CMPP §9 calls ACCEPTD an intermediate state gateways should drop (and ENROUTE, the SMPP
#: state its stat texts come from, is no end either). SMGP lists ACCEPTD among its final
#: stats. SGIP reports a number (State 1 is "waiting"), decided in its client.
INTERMEDIATE_STATS: Mapping[str, frozenset[str]] = {
    "cmpp": frozenset({ENROUTE, ACCEPTED}),
    "smgp": frozenset({ENROUTE}),
    "smpp": frozenset({ENROUTE}),
}


class LongReport(StrEnum):
    """Which segment reports decide a long message's one report (channel setting)."""

    ALL = "all"
    FIRST = "first"
    LAST = "last"


def normalise_carrier_id(protocol: str, carrier_id: str) -> str:
    """The form a carrier id is stored in: trimmed, lower case, SMPP without leading zeros."""
    value = carrier_id.strip().lower()
    if protocol in _BINARY_ID_PROTOCOLS:
        return value
    return value.lstrip("0") or "0"


def carrier_id_variants(protocol: str, carrier_id: str) -> set[str]:
    """Every stored form a report's id may correspond to.

    CMPP/SGIP/SMGP ids are binary values with one canonical text. SMPP ids are free text
    that SMSCs render in hex in one PDU and in decimal in another, with or without leading
    zeros, so both readings are tried.
    """
    value = normalise_carrier_id(protocol, carrier_id)
    variants = {value}
    if protocol in _BINARY_ID_PROTOCOLS:
        return variants
    if value.isdigit():
        variants.add(f"{int(value):x}")
    if all(ch in "0123456789abcdef" for ch in value):
        variants.add(str(int(value, 16)))
    return variants


def is_final_stat(protocol: str, stat: str) -> bool:
    """True when a receipt with ``stat`` tells how the message ended (and may be stored).

    An intermediate receipt (``ENROUTE``, CMPP's ``ACCEPTD``) is answered and dropped: the
    final receipt that follows decides the report.
    """
    return stat.strip("\x00 ").upper() not in INTERMEDIATE_STATS.get(protocol, frozenset())


def final_stat(stats: Sequence[str | None], policy: LongReport) -> str | None:
    """The message's report once the segments' reports decide it, else ``None``.

    ``stats`` is in segment order, ``None`` where a segment has not been reported yet.
    """
    if not stats:
        return None
    if policy is LongReport.FIRST:
        return stats[0]
    if policy is LongReport.LAST:
        return stats[-1]
    if any(s is None for s in stats):
        return None
    return next((s for s in stats if s != DELIVERED), DELIVERED)


def route_reply(destination: str, prefixes: Iterable[tuple[str, int]]) -> int | None:
    """The account whose access code + extension is the longest prefix of ``destination``."""
    best: tuple[int, int] | None = None
    for prefix, account_id in prefixes:
        if prefix and destination.startswith(prefix) and (best is None or len(prefix) > best[0]):
            best = (len(prefix), account_id)
    return best[1] if best else None


def is_opt_out(content: str) -> bool:
    """A reply that asks to stop messages from this sender."""
    return content.strip().upper() in OPT_OUT_WORDS
