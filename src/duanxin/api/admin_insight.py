"""Operator REST for push callbacks, statistics, message lookup and ledgers, declared as
:class:`~duanxin.api.rest.Operation` s (the operator table includes them).

- ``GET|PUT /admin/callbacks/{account}``, ``POST /admin/callbacks/{account}/test``;
- ``GET /admin/stats`` (``account``, ``grain``, ``since``, ``until``, ``by``);
- ``GET /admin/messages`` (``account`` and/or ``mobile``, ``since``, ``until``, ``limit``,
  ``offset``) and ``GET /admin/messages/{mid}``;
- ``GET /admin/ledger/{account}`` (``before``, ``limit``, ``since``, ``until``, ``reason``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from duanxin.api import views
from duanxin.api.errors import RestError
from duanxin.api.rest import Call, Operation
from duanxin.domain.status import StatusError
from duanxin.domain.wire import parse_local_time
from duanxin.service import admin, callbacks, history, stats

__all__ = ["INSIGHT_OPERATIONS"]

TAG = "insight"
ANY_LIST = list[dict[str, Any]]
Limit = Field(default=100, ge=1, le=history.MAX_PAGE)
Time = Field(default=None, description="YYYY-MM-DD or YYYY-MM-DD HH:MM:SS, platform local.")


class CallbacksSet(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    reports_url: str | None = Field(default=None, max_length=512, description="'' removes.")
    replies_url: str | None = Field(default=None, max_length=512, description="'' removes.")
    rotate: bool = Field(default=False, description="A new signing secret (24 h overlap).")


class _Query(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: str | None = Time
    until: str | None = Time


class StatsQuery(_Query):
    account: str | None = None
    grain: Literal["day", "hour"] = "day"
    by: str = Field(default="", description="Comma-separated: carrier, channel, account.")


class MessagesQuery(_Query):
    account: str | None = None
    mobile: str | None = None
    limit: int = Limit
    offset: int = Field(default=0, ge=0)


class LedgerQuery(_Query):
    before: int | None = Field(default=None, ge=1, description="The answer's next_before.")
    limit: int = Limit
    reason: str | None = None


def _time(query: _Query, name: str) -> datetime | None:
    text = getattr(query, name)
    if not text:
        return None
    try:
        return parse_local_time(text)
    except ValueError as error:
        raise RestError(422, f"{name}: {error}", name) from None


async def _account_id(name: str, call: Call[Any, Any]) -> int:
    return (await admin.find_account(call.platform, name)).id


async def _callbacks(call: Call[Any, Any]) -> Any:
    view = await callbacks.show_callbacks(
        call.platform, await _account_id(call.path["account"], call)
    )
    if view is None:
        raise RestError(404, "no callbacks set for this account")
    return views.callback_view(view)


async def _set_callbacks(call: Call[CallbacksSet, Any]) -> Any:
    body = call.body
    try:
        view = await callbacks.set_callbacks(
            call.platform,
            await _account_id(call.path["account"], call),
            reports_url=body.reports_url,
            replies_url=body.replies_url,
            rotate=body.rotate,
            actor=call.actor,
        )
    except StatusError as error:
        raise RestError(422, error.message) from None
    return views.callback_view(view)


async def _test_callbacks(call: Call[Any, Any]) -> Any:
    account_id = await _account_id(call.path["account"], call)
    return views.test_view(await callbacks.test_callback(call.platform, account_id))


async def _stats(call: Call[Any, StatsQuery]) -> Any:
    query = call.query
    by = tuple(d.strip() for d in query.by.split(",") if d.strip())
    account_id = await _account_id(query.account, call) if query.account else None
    lines = await stats.statistics(
        call.platform,
        grain=stats.Grain(query.grain),
        since=_time(query, "since"),
        until=_time(query, "until"),
        by=by,
        account_id=account_id,
    )
    return views.stats_view(lines)


async def _message(call: Call[Any, Any]) -> Any:
    found = await history.message_history(call.platform, call.path["mid"])
    if found is None:
        raise RestError(404, "no such message")
    return views.history_view(found)


async def _messages(call: Call[Any, MessagesQuery]) -> Any:
    query = call.query
    found = await history.search_messages(
        call.platform,
        account_id=await _account_id(query.account, call) if query.account else None,
        mobile=query.mobile or None,
        since=_time(query, "since"),
        until=_time(query, "until"),
        limit=query.limit,
        offset=query.offset,
    )
    return [views.history_view(h) for h in found]


async def _ledger(call: Call[Any, LedgerQuery]) -> Any:
    query = call.query
    page = await history.ledger_page(
        call.platform,
        await _account_id(call.path["account"], call),
        before=query.before,
        limit=query.limit,
        since=_time(query, "since"),
        until=_time(query, "until"),
        reason=query.reason or None,
    )
    return views.ledger_view(page)


INSIGHT_OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/admin/callbacks/{account}", _callbacks,
              "Show an account's push callbacks", TAG, errors=(404,)),
    Operation("PUT", "/admin/callbacks/{account}", _set_callbacks,
              "Set an account's push callbacks", TAG, body=CallbacksSet, errors=(404,),
              description="The answer holds the signing secret when it was just made."),
    Operation("POST", "/admin/callbacks/{account}/test", _test_callbacks,
              "POST a signed empty batch to each callback", TAG, answer=ANY_LIST,
              errors=(404,)),
    Operation("GET", "/admin/stats", _stats, "Delivery statistics per day or hour", TAG,
              query=StatsQuery, answer=ANY_LIST, errors=(404,)),
    Operation("GET", "/admin/messages", _messages, "Messages with their history", TAG,
              query=MessagesQuery, answer=ANY_LIST, errors=(404,)),
    Operation("GET", "/admin/messages/{mid}", _message, "One message with its history", TAG,
              errors=(404,)),
    Operation("GET", "/admin/ledger/{account}", _ledger, "An account's ledger, paged", TAG,
              query=LedgerQuery, errors=(404,)),
)  # fmt: skip
