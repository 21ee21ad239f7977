"""The status report carried in a Deliver's MsgContent when IsReport = 1 (§5.6).

``id:`` is followed by the *binary* 10-byte MsgID of the reported Submit, which may hold
NUL, space or colon bytes; it is sliced by position before any text is parsed. The other
fields are found by case-insensitive label search, tolerating the spellings gateways use
(``Submit date:``, ``submit_date:``, ``Text:``, ``Txt:``).
"""

from __future__ import annotations

from dataclasses import dataclass

from duanxin.protocols.core.errors import LocalProtocolError, RemoteProtocolError
from duanxin.protocols.smgp.pdu import MSG_ID_SIZE, SmgpStatus

__all__ = ["SmgpReport", "decode_report", "encode_report"]

REPORT_TEXT_SIZE = 20
_ID_LABEL = b"id:"
_ID_END = len(_ID_LABEL) + MSG_ID_SIZE

# (field, labels accepted, size written). Searched in this order, each after the last.
_FIELDS: tuple[tuple[str, tuple[bytes, ...], int], ...] = (
    ("sub", (b" sub:",), 3),
    ("dlvrd", (b" dlvrd:",), 3),
    ("submit_date", (b" submit date:", b" submit_date:"), 10),
    ("done_date", (b" done date:", b" done_date:"), 10),
    ("stat", (b" stat:",), 7),
    ("err", (b" err:",), 3),
)
_TEXT_LABELS = (b" text:", b" txt:")


@dataclass(frozen=True, slots=True, kw_only=True)
class SmgpReport:
    """One delivery outcome: ``msg_id`` is the Submit_Resp MsgID it reports on."""

    msg_id: bytes
    sub: str = "001"
    dlvrd: str = "001"
    submit_date: str = ""  # YYMMDDhhmm
    done_date: str = ""  # YYMMDDhhmm
    stat: str
    err: str = "000"
    text: bytes = b""  # 3 digits of original length + its first 17 bytes


def encode_report(report: SmgpReport) -> bytes:
    """The MsgContent of a report Deliver (lowercase labels, as SMPP receipts write them)."""
    if len(report.msg_id) != MSG_ID_SIZE:
        raise LocalProtocolError(f"report msg_id must be {MSG_ID_SIZE} bytes")
    if len(report.text) > REPORT_TEXT_SIZE:
        raise LocalProtocolError(f"report text is at most {REPORT_TEXT_SIZE} bytes")
    parts = [_ID_LABEL, report.msg_id]
    for name, labels, size in _FIELDS:
        value: str = getattr(report, name)
        try:
            raw = value.encode("ascii")
        except UnicodeEncodeError as error:
            raise LocalProtocolError(f"report {name} must be ASCII") from error
        if len(raw) > size or b" " in raw:
            raise LocalProtocolError(f"report {name} {value!r} does not fit {size} bytes")
        parts += (labels[0], raw)
    parts += (_TEXT_LABELS[0], report.text.ljust(REPORT_TEXT_SIZE, b"\x00"))
    return b"".join(parts)


def decode_report(content: bytes) -> SmgpReport:
    """Read a report out of a Deliver's MsgContent."""
    if len(content) < _ID_END or content[: len(_ID_LABEL)].lower() != _ID_LABEL:
        raise RemoteProtocolError(
            "report does not start with id: and 10 bytes",
            status=SmgpStatus.BAD_STRUCTURE,
            close=False,
        )
    rest = content[_ID_END:]
    folded = rest.lower()
    cursor = 0
    found: dict[str, str] = {}
    for name, labels, _size in _FIELDS:
        start = _find_label(folded, labels, cursor)
        if start is None:
            continue
        stop = rest.find(b" ", start)
        stop = len(rest) if stop < 0 else stop
        found[name] = rest[start:stop].decode("latin-1").strip("\x00")
        cursor = stop
    if "stat" not in found:
        raise RemoteProtocolError(
            "report has no stat:", status=SmgpStatus.BAD_STRUCTURE, close=False
        )
    text_at = _find_label(folded, _TEXT_LABELS, cursor)
    text = b"" if text_at is None else rest[text_at : text_at + REPORT_TEXT_SIZE]
    return SmgpReport(msg_id=content[len(_ID_LABEL) : _ID_END], text=text.rstrip(b"\x00"), **found)


def _find_label(folded: bytes, labels: tuple[bytes, ...], start: int) -> int | None:
    """The offset just after the first of ``labels`` found at or after ``start``."""
    hits = [(at, label) for label in labels if (at := folded.find(label, start)) >= 0]
    if not hits:
        return None
    at, label = min(hits)
    return at + len(label)
