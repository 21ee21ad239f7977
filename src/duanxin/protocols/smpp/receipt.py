"""Delivery receipts as pure functions: which deliver_sm is one, whether it is final, and
the customary receipt text (SMPP 3.4 Appendix B).

``id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD
err:E text:...``. The layout is vendor-specific, so parsing is label-anchored, case-insensitive
and tolerant of missing fields; formatting writes the customary layout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from duanxin.domain.reports import is_final_stat
from duanxin.protocols.core.fields import parse_report_time
from duanxin.protocols.smpp.pdu import ESM_MESSAGE_TYPE_MASK, EsmMessageType, MessageState

__all__ = ["DeliveryReceipt", "format_receipt", "parse_receipt"]

TEXT_EXCERPT = 20  # characters of the original message the receipt repeats
COUNT_WIDTH = 3  # sub / dlvrd are zero-padded to three digits

STAT_TEXT: dict[MessageState, str] = {
    MessageState.ENROUTE: "ENROUTE",
    MessageState.DELIVERED: "DELIVRD",
    MessageState.EXPIRED: "EXPIRED",
    MessageState.DELETED: "DELETED",
    MessageState.UNDELIVERABLE: "UNDELIV",
    MessageState.ACCEPTED: "ACCEPTD",
    MessageState.UNKNOWN: "UNKNOWN",
    MessageState.REJECTED: "REJECTD",
}
_STATE_FOR_TEXT = {text: state for state, text in STAT_TEXT.items()}
_STATE_VALUES = frozenset(MessageState)
#: message_state values that are not an outcome (notes §7.3: ENROUTE is "not final").
INTERMEDIATE_STATES = frozenset({MessageState.ENROUTE})


class DeliverKind(Enum):
    """What a deliver_sm / data_sm from the SMSC is, by its esm_class message type."""

    MESSAGE = "message"  # an MO from a handset: a reply
    RECEIPT = "receipt"  # an SMSC delivery receipt: a report
    OTHER = "other"  # acknowledgements, intermediate notifications ...: answered, not kept


def deliver_kind(esm_class: int) -> DeliverKind:
    """Only message type 0x04 is a report and only type 0 a reply (notes §6.3).

    SME delivery and manual acknowledgements (0x08, 0x10), intermediate delivery
    notifications (0x20), conversation aborts and reserved values are neither.
    """
    message_type = esm_class & ESM_MESSAGE_TYPE_MASK
    if message_type == EsmMessageType.DEFAULT:
        return DeliverKind.MESSAGE
    if message_type == EsmMessageType.DELIVERY_RECEIPT:
        return DeliverKind.RECEIPT
    return DeliverKind.OTHER


def is_final_receipt(message_state: int | None, text_stat: str) -> bool:
    """True when a receipt says how the message ended; False for ENROUTE.

    A message_state TLV with a known value decides; without one the receipt text's stat.
    """
    if message_state in _STATE_VALUES:
        return message_state not in INTERMEDIATE_STATES
    return is_final_stat("smpp", text_stat)


_PATTERNS = {
    "message_id": re.compile(r"\bid:(\S+)", re.IGNORECASE),
    "sub": re.compile(r"\bsub:(\d+)", re.IGNORECASE),
    "dlvrd": re.compile(r"\bdlvrd:(\d+)", re.IGNORECASE),
    "submit_date": re.compile(r"\bsubmit date:(\d+)", re.IGNORECASE),
    "done_date": re.compile(r"\bdone date:(\d+)", re.IGNORECASE),
    "stat": re.compile(r"\bstat:(\S+)", re.IGNORECASE),
    "err": re.compile(r"\berr:(\w+)", re.IGNORECASE),
    "text": re.compile(r"\btext:(.*)", re.IGNORECASE | re.DOTALL),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryReceipt:
    """The fields of a receipt text; dates stay as written (10 or 12 digits)."""

    message_id: str
    sub: int = 1
    dlvrd: int = 0
    submit_date: str = ""
    done_date: str = ""
    stat: str = ""
    err: str = "000"
    text: str = ""


def parse_receipt(text: str) -> DeliveryReceipt | None:
    """Read a receipt text; None when it has no ``id:``. Missing fields keep defaults."""
    found = {name: pattern.search(text) for name, pattern in _PATTERNS.items()}
    message_id = found.pop("message_id")
    if message_id is None:
        return None
    values = {name: match.group(1) for name, match in found.items() if match is not None}
    return DeliveryReceipt(
        message_id=message_id.group(1),
        sub=int(values.pop("sub", 1)),
        dlvrd=int(values.pop("dlvrd", 0)),
        **values,
    )


def format_receipt(receipt: DeliveryReceipt) -> str:
    """The customary receipt text for ``receipt`` (its text cut to 20 characters)."""
    return (
        f"id:{receipt.message_id} sub:{receipt.sub:0{COUNT_WIDTH}d}"
        f" dlvrd:{receipt.dlvrd:0{COUNT_WIDTH}d} submit date:{receipt.submit_date}"
        f" done date:{receipt.done_date} stat:{receipt.stat} err:{receipt.err}"
        f" text:{receipt.text[:TEXT_EXCERPT]}"
    )


#: ``YYMMDDhhmm`` or ``YYMMDDhhmmss`` as a naive datetime; None when unreadable.
parse_receipt_time = parse_report_time


def format_receipt_time(when: datetime) -> str:
    """``YYMMDDhhmm``, the customary receipt date."""
    return when.strftime("%y%m%d%H%M")


def state_for_stat(stat: str) -> MessageState:
    """The message_state matching a stat text (UNDELIVERABLE for vendor codes)."""
    return _STATE_FOR_TEXT.get(stat.upper(), MessageState.UNDELIVERABLE)
