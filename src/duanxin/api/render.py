"""The service's outcomes as the published API page's JSON (SPEC 2.4–2.7), byte for byte.

``status`` is a string in the answers of ``/smssend``, ``/smsreport`` and ``/smsmo`` and an
integer in those of ``/smsoverage``, exactly as the page has it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from duanxin.domain.wire import SEED_TIME_FORMAT, json_bytes
from duanxin.service.results import BalanceOutcome, PullOutcome, Reply, Report, SendOutcome

__all__ = ["render_balance", "render_items", "render_pull", "render_send"]

REPORT_FLAG, REPLY_FLAG = 1, 0


def render_send(outcome: SendOutcome) -> bytes:
    """``/smssend``: ``{"status": "0", "balance": n, "list": [{mid, mobile, result}], "msg"}``."""
    entries = outcome.entries
    listing = (
        None
        if entries is None
        else [{"mid": e.mid, "mobile": e.mobile, "result": int(e.result)} for e in entries]
    )
    return json_bytes(
        {
            "status": str(int(outcome.status)),
            "balance": outcome.balance,
            "list": listing,
            "msg": outcome.msg,
        }
    )


def render_balance(outcome: BalanceOutcome) -> bytes:
    """``/smsoverage``: integer ``status``; ``segments`` only when the content was given."""
    document: dict[str, Any] = {
        "status": int(outcome.status),
        "balance": outcome.balance,
        "chargeType": outcome.charge_type.value,
        "msg": outcome.msg,
    }
    if outcome.segments is not None:
        document["segments"] = outcome.segments
    return json_bytes(document)


def render_pull(outcome: PullOutcome) -> bytes:
    """``/smsreport`` and ``/smsmo``: the reports' or replies' list (``null`` when refused)."""
    items = outcome.items
    listing = None if items is None else [_item(item) for item in items]
    return json_bytes(
        {
            "status": str(int(outcome.status)),
            "balance": outcome.balance,
            "list": listing,
            "msg": outcome.msg,
        }
    )


def render_items(items: Sequence[Report | Reply]) -> bytes:
    """A JSON array of items exactly as a pull lists them (what a push callback gets)."""
    return json_bytes([_item(item) for item in items])


def _item(item: Report | Reply) -> dict[str, Any]:
    if isinstance(item, Report):
        return {
            "flag": REPORT_FLAG,
            "mid": item.mid,
            "spid": item.spid,
            "accessCode": item.access_code,
            "mobile": item.mobile,
            "stat": item.stat,
            "time": item.time.strftime(SEED_TIME_FORMAT),
        }
    return {
        "flag": REPLY_FLAG,
        "mid": item.mid,
        "spid": item.spid,
        "accessCode": item.access_code,
        "mobile": item.mobile,
        "content": item.content,
        "time": item.time.strftime(SEED_TIME_FORMAT),
    }
