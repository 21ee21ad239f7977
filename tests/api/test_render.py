"""The service's typed outcomes rendered as the published page's JSON, byte for byte."""

from __future__ import annotations

from datetime import datetime

from duanxin.api.render import render_balance, render_pull, render_send
from duanxin.domain.billing import ChargeType
from duanxin.domain.status import NumberResult, Status, StatusError
from duanxin.service.results import (
    BalanceOutcome,
    PullOutcome,
    Reply,
    Report,
    SendEntry,
    SendOutcome,
)

AT = datetime(2026, 12, 1, 9, 30, 5)


def test_send_accepted_and_refused() -> None:
    outcome = SendOutcome(
        Status.OK, 99, (SendEntry("0A", "13800138000", NumberResult.NO_CHANNEL),), "ok"
    )
    assert render_send(outcome) == (
        b'{"status":"0","balance":99,"list":[{"mid":"0A","mobile":"13800138000","result":100}],'
        b'"msg":"ok"}'
    )
    refused = SendOutcome.failure(StatusError(Status.MALFORMED, "mobile is empty"))
    assert render_send(refused) == b'{"status":"1","balance":0,"list":null,"msg":"mobile is empty"}'


def test_balance_status_is_an_integer_and_segments_only_when_asked() -> None:
    plain = BalanceOutcome(Status.OK, 5, ChargeType.PRECHARGE, "ok")
    assert render_balance(plain) == b'{"status":0,"balance":5,"chargeType":"PRECHARGE","msg":"ok"}'
    priced = BalanceOutcome(Status.OK, 5, ChargeType.PRECHARGE, "ok", segments=2)
    assert render_balance(priced).endswith(b',"msg":"ok","segments":2}')


def test_reports_and_replies_with_the_page_time_format() -> None:
    reports = PullOutcome(
        Status.OK, 3, (Report("0A", "000000", "10690", "13800138000", "DELIVRD", AT),), "ok"
    )
    assert render_pull(reports) == (
        b'{"status":"0","balance":3,"list":[{"flag":1,"mid":"0A","spid":"000000",'
        b'"accessCode":"10690","mobile":"13800138000","stat":"DELIVRD",'
        b'"time":"2026-12-01 09:30:05"}],"msg":"ok"}'
    )
    replies = PullOutcome(
        Status.OK, 3, (Reply("0B", "000000", "10690", "13800138000", "退订", AT),), "ok"
    )
    assert '"flag":0' in render_pull(replies).decode()
    assert '"content":"退订"' in render_pull(replies).decode()
    refused = PullOutcome.failure(StatusError(Status.WRONG_ACCOUNT))
    assert render_pull(refused) == (
        b'{"status":"3","balance":0,"list":null,"msg":"wrong account or password"}'
    )
