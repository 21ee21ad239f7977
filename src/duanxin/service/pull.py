"""Balance queries and the pulls of reports and replies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from duanxin.domain.segments import count_segments
from duanxin.domain.status import Status, StatusError
from duanxin.service.accounts import Caller, authenticate
from duanxin.service.platform import Platform
from duanxin.service.policy import priced_content
from duanxin.service.results import BalanceOutcome, PullOutcome, Reply, Report
from duanxin.store import inbox

__all__ = ["Credentials", "balance", "pull_replies", "pull_reports"]


@dataclass(frozen=True, slots=True)
class Credentials:
    account: str
    password: str


async def balance(
    platform: Platform, credentials: Credentials, caller: Caller, content: str | None = None
) -> BalanceOutcome:
    """``/smsoverage``: the balance, and what ``content`` would cost per number if given."""
    try:
        account = await authenticate(
            platform, credentials.account, credentials.password, caller, fresh=True
        )
        async with platform.request_slot(account.id, account.max_concurrency):
            pass  # SPEC 2.2: over the connection limit is 21 on every endpoint
    except StatusError as error:
        return BalanceOutcome.failure(error)
    # What one number would cost: the content as it would be sent, signature included.
    segments = count_segments(priced_content(account, content)) if content else None
    return BalanceOutcome(
        Status.OK, account.balance, account.charge_type, Status.OK.default_message, segments
    )


async def _pull(
    platform: Platform, credentials: Credentials, caller: Caller, size: int, replies: bool
) -> PullOutcome:
    try:
        account = await authenticate(platform, credentials.account, credentials.password, caller)
        pull = inbox.pull_replies if replies else inbox.pull_reports
        async with (
            platform.request_slot(account.id, account.max_concurrency),
            platform.engine.begin() as conn,
        ):
            rows = await pull(conn, account.id, size, platform.clock())
    except StatusError as error:
        return PullOutcome.failure(error)
    items = tuple(_reply(row) for row in rows) if replies else tuple(_report(row) for row in rows)
    return PullOutcome(Status.OK, account.balance, items, Status.OK.default_message)


def _report(row: Any) -> Report:
    return Report(
        row["mid"], row["spid"], row["access_code"], row["mobile"], row["stat"], row["reported_at"]
    )


def _reply(row: Any) -> Reply:
    return Reply(
        row["mid"],
        row["spid"],
        row["access_code"],
        row["mobile"],
        row["content"],
        row["received_at"],
    )


async def pull_reports(
    platform: Platform, credentials: Credentials, caller: Caller, size: int
) -> PullOutcome:
    """``/smsreport``: up to ``size`` reports not yet pulled, oldest first."""
    return await _pull(platform, credentials, caller, size, replies=False)


async def pull_replies(
    platform: Platform, credentials: Credentials, caller: Caller, size: int
) -> PullOutcome:
    """``/smsmo``: up to ``size`` replies not yet pulled, oldest first."""
    return await _pull(platform, credentials, caller, size, replies=True)
