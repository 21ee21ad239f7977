"""JSON views of callbacks, statistics, message histories and ledger pages (the customer
and operator REST answers), and the parsing of their query parameters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from duanxin.domain.wire import SEED_TIME_FORMAT, parse_local_time
from duanxin.service.callbacks import CallbackTest, CallbackView
from duanxin.service.history import LedgerPage, MessageHistory
from duanxin.service.stats import Grain, StatLine

__all__ = [
    "StatsParams",
    "callback_view",
    "history_view",
    "ledger_view",
    "optional_int",
    "optional_time",
    "stats_params",
    "stats_view",
    "test_view",
]


def _times(document: Any) -> Any:
    if isinstance(document, datetime):
        return document.strftime(SEED_TIME_FORMAT)
    if isinstance(document, dict):
        return {k: _times(v) for k, v in document.items()}
    if isinstance(document, list | tuple):
        return [_times(v) for v in document]
    return document


def callback_view(view: CallbackView) -> dict[str, Any]:
    document = _times(asdict(view))
    if view.secret is None:
        document.pop("secret")
    return dict(document)


def test_view(tests: list[CallbackTest]) -> list[dict[str, Any]]:
    return [
        {"kind": t.kind.value, "url": t.url, "outcome": t.outcome, "detail": t.detail}
        for t in tests
    ]


def stats_view(lines: list[StatLine]) -> list[dict[str, Any]]:
    views = []
    for line in lines:
        view = _times(asdict(line))
        for key in ("carrier", "channel", "account"):
            if view[key] is None:
                view.pop(key)
        views.append(view)
    return views


def history_view(history: MessageHistory) -> dict[str, Any]:
    return dict(_times(asdict(history)))


def ledger_view(page: LedgerPage) -> dict[str, Any]:
    return {"list": _times([asdict(e) for e in page.entries]), "next_before": page.next_before}


def optional_time(params: Mapping[str, str], name: str) -> datetime | None:
    text = (params.get(name) or "").strip()
    if not text:
        return None
    try:
        return parse_local_time(text)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def optional_int(params: Mapping[str, str], name: str, default: int | None = None) -> int | None:
    text = (params.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit():
        raise ValueError(f"{name} must be a whole number")
    return int(text)


class StatsParams:
    def __init__(
        self, grain: Grain, since: datetime | None, until: datetime | None, by: tuple[str, ...]
    ):
        self.grain, self.since, self.until, self.by = grain, since, until, by


def stats_params(params: Mapping[str, str], allowed: tuple[str, ...]) -> StatsParams:
    """``grain`` (day or hour), ``since``, ``until``, ``by`` (comma-separated dimensions)."""
    grain_text = (params.get("grain") or "day").strip()
    if grain_text not in ("day", "hour"):
        raise ValueError("grain must be day or hour")
    by = tuple(d.strip() for d in (params.get("by") or "").split(",") if d.strip())
    refused = [d for d in by if d not in allowed]
    if refused:
        raise ValueError(f"by may name {', '.join(allowed)}; not {', '.join(refused)}")
    return StatsParams(
        Grain(grain_text), optional_time(params, "since"), optional_time(params, "until"), by
    )
