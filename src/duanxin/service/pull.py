"""Balance queries and the pulls of reports and replies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from duanxin.domain.segments import count_segments
from duanxin.domain.status import StatusError
from duanxin.domain.wire import json_bytes
from duanxin.service.accounts import Caller, authenticate
from duanxin.service.platform import Platform
from duanxin.service.policy import priced_content
from duanxin.store import inbox

__all__ = ["balance", "pull_replies", "pull_reports"]

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
REPORT_FLAG, REPLY_FLAG = 1, 0


@dataclass(frozen=True, slots=True)
class Credentials:
    account: str
    password: str


async def balance(
    platform: Platform, credentials: Credentials, caller: Caller, content: str | None = None
) -> bytes:
    """``/smsoverage``: the balance, and what ``content`` would cost per number if given."""
    try:
        account = await authenticate(
            platform, credentials.account, credentials.password, caller, fresh=True
        )
        async with platform.request_slot(account.id, account.max_concurrency):
            pass  # SPEC 2.2: over the connection limit is 21 on every endpoint
    except StatusError as error:
        return json_bytes(
            {
                "status": int(error.status),
                "balance": 0,
                "chargeType": "PRECHARGE",
                "msg": error.message,
            }
        )
    document: dict[str, Any] = {
        "status": 0,
        "balance": account.balance,
        "chargeType": account.charge_type.value,
        "msg": "ok",
    }
    if content:
        # What one number would cost: the content as it would be sent, signature included.
        document["segments"] = count_segments(priced_content(account, content))
    return json_bytes(document)


async def _pull(
    platform: Platform, credentials: Credentials, caller: Caller, size: int, replies: bool
) -> bytes:
    try:
        account = await authenticate(platform, credentials.account, credentials.password, caller)
        pull = inbox.pull_replies if replies else inbox.pull_reports
        async with (
            platform.request_slot(account.id, account.max_concurrency),
            platform.engine.begin() as conn,
        ):
            rows = await pull(conn, account.id, size)
    except StatusError as error:
        return json_bytes(
            {"status": str(int(error.status)), "balance": 0, "list": None, "msg": error.message}
        )
    listing = [_reply(row) if replies else _report(row) for row in rows]
    return json_bytes({"status": "0", "balance": account.balance, "list": listing, "msg": "ok"})


def _report(row: Any) -> dict[str, Any]:
    return {
        "flag": REPORT_FLAG,
        "mid": row["mid"],
        "spid": row["spid"],
        "accessCode": row["access_code"],
        "mobile": row["mobile"],
        "stat": row["stat"],
        "time": row["reported_at"].strftime(TIME_FORMAT),
    }


def _reply(row: Any) -> dict[str, Any]:
    return {
        "flag": REPLY_FLAG,
        "mid": row["mid"],
        "spid": row["spid"],
        "accessCode": row["access_code"],
        "mobile": row["mobile"],
        "content": row["content"],
        "time": row["received_at"].strftime(TIME_FORMAT),
    }


async def pull_reports(
    platform: Platform, credentials: Credentials, caller: Caller, size: int
) -> bytes:
    """``/smsreport``: up to ``size`` reports not yet pulled, oldest first."""
    return await _pull(platform, credentials, caller, size, replies=False)


async def pull_replies(
    platform: Platform, credentials: Credentials, caller: Caller, size: int
) -> bytes:
    """``/smsmo``: up to ``size`` replies not yet pulled, oldest first."""
    return await _pull(platform, credentials, caller, size, replies=True)
