"""The customer CMPP server through real sockets, with our own CMPP 2.0/3.0 client."""

from __future__ import annotations

import pytest

from duanxin.domain.accounts import AccessType
from duanxin.domain.status import DELIVERED
from duanxin.protocols.cmpp.pdu import CmppVersion
from duanxin.service import admin
from tests.access.customers import cmpp_customer
from tests.conftest import Stack

MOBILE = "13800138001"


def cmpp_address(stack: Stack) -> tuple[str, int]:
    where = stack.facts.access["cmpp"]
    return where["host"], where["port"]


@pytest.mark.parametrize("version", [CmppVersion.V20, CmppVersion.V21, CmppVersion.V30])
async def test_login_is_answered_in_the_version_asked(stack: Stack, version: int) -> None:
    customer = await cmpp_customer(
        *cmpp_address(stack), stack.facts.account, stack.facts.password, version
    )
    assert customer.login.status == 0
    assert customer.login.version == version
    await customer.close()


async def test_submit_gets_an_id_and_its_report_as_deliver(stack: Stack) -> None:
    customer = await cmpp_customer(*cmpp_address(stack), stack.facts.account, stack.facts.password)
    answer = await customer.submit([MOBILE], "您的订单已发货".encode("utf-16-be"), msg_fmt=8)
    assert answer.result == 0 and answer.msg_id != 0
    await stack.wait_for(_has_reports(customer, 1))
    (report,) = customer.reports
    assert report.msg_id == answer.msg_id
    assert report.stat == DELIVERED
    assert report.dest_terminal_id == MOBILE
    await customer.close()


def _has_reports(customer, count):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return len(customer.reports) >= count

    return check
