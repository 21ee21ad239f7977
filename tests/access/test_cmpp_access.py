"""The customer CMPP server through real sockets, with our own CMPP 2.0/3.0 client."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from duanxin.demo import ACCESS_CODES
from duanxin.domain.accounts import AccessType
from duanxin.domain.segments import split_message
from duanxin.domain.status import DELIVERED
from duanxin.protocols.cmpp.pdu import (
    CmppActiveTest,
    CmppActiveTestResp,
    CmppSubmit,
    CmppSubmitResp,
    CmppVersion,
)
from duanxin.service import admin
from duanxin.store import access as access_store
from duanxin.store import accounts as account_store
from duanxin.store import inbox
from tests.access.conftest import StackFactory, address
from tests.access.customers import CmppCustomer, cmpp_customer
from tests.conftest import Stack
from tests.e2e.helpers import add_account, answer, assert_list_failure, post

MOBILE = "13800138001"
UCS2 = 8


async def login(stack: Stack, version: int = CmppVersion.V30, **account: str) -> CmppCustomer:
    name = account.get("account", stack.facts.account)
    password = account.get("password", stack.facts.password)
    return await cmpp_customer(*address(stack, "cmpp"), name, password, version)


def has_reports(customer: CmppCustomer, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(customer.reports) >= count

    return check


@pytest.mark.parametrize("version", [CmppVersion.V20, CmppVersion.V21, CmppVersion.V30])
async def test_login_is_answered_in_the_version_asked(stack: Stack, version: int) -> None:
    customer = await login(stack, version)
    assert customer.login.status == 0
    assert customer.login.version == version
    await customer.close()


async def test_submit_gets_an_id_and_its_report_as_deliver(stack: Stack) -> None:
    customer = await login(stack)
    answer_ = await customer.submit([MOBILE], "您的订单已发货".encode("utf-16-be"), msg_fmt=UCS2)
    assert answer_.result == 0 and answer_.msg_id != 0
    await stack.wait_for(has_reports(customer, 1))
    (report,) = customer.reports
    assert report.msg_id == answer_.msg_id
    assert report.stat == DELIVERED
    assert report.dest_terminal_id == MOBILE
    await customer.close()


async def test_2_0_customer_gets_its_report_in_the_2_0_layout(stack: Stack) -> None:
    customer = await login(stack, CmppVersion.V20)
    answer_ = await customer.submit([MOBILE], b"order 1234 shipped", msg_fmt=0)
    assert answer_.result == 0
    await stack.wait_for(has_reports(customer, 1))
    assert customer.delivers[0].version == CmppVersion.V20
    assert customer.reports[0].msg_id == answer_.msg_id
    await customer.close()


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"state": "disabled"}, 7),
        ({"state": "frozen"}, 7),
        ({"ip_whitelist": "10.9.8.7"}, 2),
        ({"access_type": AccessType.HTTP.value}, 6),
        ({"access_type": AccessType.SMPP.value}, 6),
    ],
)
async def test_login_refusals(stack: Stack, change: dict[str, str], status: int) -> None:
    await admin.set_account(stack.running.platform, stack.facts.account, change)
    customer = await login(stack)
    assert customer.login.status == status
    await customer.session.closed  # a refused login ends the connection


async def test_wrong_password_and_unknown_account_are_3(stack: Stack) -> None:
    assert (await login(stack, password="wrong")).login.status == 3
    assert (await login(stack, account="nobody")).login.status == 3


@pytest.mark.parametrize("version", [0x10, 0x31, 0x40])
async def test_unsupported_version_is_4(stack: Stack, version: int) -> None:
    assert (await login(stack, version)).login.status == 4


async def test_connection_cap_is_21(stack: Stack) -> None:
    await admin.set_account(stack.running.platform, stack.facts.account, {"max_concurrency": 2})
    first, second = await login(stack), await login(stack)
    assert (first.login.status, second.login.status) == (0, 0)
    third = await login(stack)
    assert third.login.status == 21
    await first.close()
    await stack.wait_for(_connections(stack, 1))
    again = await login(stack)
    assert again.login.status == 0
    await second.close()
    await again.close()


def _connections(stack: Stack, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        access = stack.running.access
        assert access is not None
        return len(access.connections) == count

    return check


async def test_tps_limit_answers_result_8(stack: Stack) -> None:
    platform = stack.running.platform
    platform.monotonic = lambda: 1000.0  # a clock that stands still: no token comes back
    await admin.set_account(platform, stack.facts.account, {"tps": 2})
    customer = await login(stack)
    results = [
        (await customer.submit([m], b"order shipped")).result
        for m in ("13800138011", "13800138012", "13800138013")
    ]
    assert results == [0, 0, 8]
    await customer.close()


async def test_http_only_account_refused_on_cmpp_and_cmpp_only_on_http(stack: Stack) -> None:
    http_only = await add_account(stack, "webone", access_type=AccessType.HTTP)
    cmpp_only = await add_account(stack, "cmppon", access_type=AccessType.CMPP)
    assert (await login(stack, **http_only)).login.status == 6
    customer = await login(stack, **cmpp_only)
    assert customer.login.status == 0
    await customer.close()
    data = {**cmpp_only, "mobile": MOBILE, "content": "您的订单已发货"}
    assert_list_failure(answer(await post(stack, "/smssend", data=data)), 6)


async def test_long_message_in_udh_segments_is_sent_as_one(stack: Stack) -> None:
    customer = await login(stack)
    text = "您的订单已发货，预计明天送达，请保持电话畅通，如有疑问请联系客服。" * 5
    segments = split_message(text, 7)
    assert len(segments) == 3
    version = customer.session.dialect.version  # type: ignore[attr-defined]
    futures = [
        customer.session.send_request(
            CmppSubmit(
                version=version,
                pk_total=s.total,
                pk_number=s.number,
                tp_udhi=1,
                msg_fmt=UCS2,
                registered_delivery=1,
                dest_terminal_ids=(MOBILE,),
                msg_content=s.user_data,
            )
        )
        for s in segments
    ]
    answers = [a for a in await asyncio.gather(*futures) if isinstance(a, CmppSubmitResp)]
    assert [a.result for a in answers] == [0, 0, 0]
    ids = [a.msg_id for a in answers]
    assert len(set(ids)) == 3  # each segment has an id of its own
    await stack.wait_for(has_reports(customer, 3))
    assert sorted(r.msg_id for r in customer.reports) == sorted(ids)
    (received,) = stack.simulators["cmpp"].behaviour.received
    assert received.text.endswith(text) and received.destination == MOBILE
    await customer.close()


async def test_incomplete_long_message_is_refused_after_the_timeout(
    custom_stack: StackFactory,
) -> None:
    async with custom_stack(access_long_message_seconds=0.2) as stack:
        customer = await login(stack)
        first = split_message("您的订单已发货，" * 20, 9)[0]
        answer_ = await customer.submit(
            [MOBILE], first.user_data, tp_udhi=1, msg_fmt=UCS2, pk_total=first.total
        )
        assert answer_.result == 1 and answer_.msg_id == 0
        assert not stack.simulators["cmpp"].behaviour.received
        await customer.close()


async def test_reply_is_delivered_as_deliver_0(stack: Stack) -> None:
    customer = await login(stack)
    await stack.simulators["cmpp"].inject_mo(MOBILE, ACCESS_CODES["cmpp"], "好的，收到")
    await stack.wait_for(_has_replies(customer, 1))
    (reply,) = customer.replies
    assert reply.registered_delivery == 0
    assert reply.src_terminal_id == MOBILE
    assert reply.msg_content.decode("utf-16-be") == "好的，收到"
    await customer.close()


async def test_long_reply_goes_as_udh_segments(stack: Stack) -> None:
    customer = await login(stack)
    text = "这是一条很长的回复，" * 12
    await stack.simulators["cmpp"].inject_mo(MOBILE, ACCESS_CODES["cmpp"], text)
    await stack.wait_for(_has_replies(customer, 2))
    parts = customer.replies
    assert all(p.tp_udhi == 1 for p in parts)
    assert "".join(p.msg_content[6:].decode("utf-16-be") for p in parts) == text
    await customer.close()


def _has_replies(customer: CmppCustomer, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(customer.replies) >= count

    return check


async def test_deliveries_in_flight_come_again_after_reconnection_exactly_once(
    stack: Stack,
) -> None:
    silent = await login(stack)
    silent.answering = False  # takes the DELIVERs, never answers them
    mobiles = ["13800138021", "13800138022", "13800138023"]
    ids = [(await silent.submit([m], b"order shipped")).msg_id for m in mobiles]
    await stack.wait_for(has_reports(silent, 3))
    silent.session.abort("customer crashed")
    again = await login(stack)
    await stack.wait_for(has_reports(again, 3))
    marker = await again.submit(["13800138024"], b"order shipped")
    await stack.wait_for(has_reports(again, 4))
    assert sorted(r.msg_id for r in again.reports) == sorted([*ids, marker.msg_id])
    platform = stack.running.platform
    async with platform.engine.connect() as conn:
        demo = await account_store.find_account(conn, stack.facts.account)
        assert demo is not None
        waiting = await inbox.count_waiting(conn, inbox.Kind.REPORTS, demo.id, platform.clock())
    assert waiting == 0
    pulled = answer(
        await post(
            stack,
            "/smsreport",
            data={"account": stack.facts.account, "password": stack.facts.password},
        )
    )
    assert pulled["status"] == "0" and pulled["list"] == []  # never handed to pulls as well
    await again.close()


async def test_group_submit_shares_one_msg_id_with_a_report_per_destination(stack: Stack) -> None:
    customer = await login(stack)
    mobiles = ["13800138071", "13800138072"]
    answer_ = await customer.submit(mobiles, b"order shipped")
    assert answer_.result == 0
    await stack.wait_for(has_reports(customer, 2))
    assert [r.msg_id for r in customer.reports] == [answer_.msg_id] * 2
    assert sorted(r.dest_terminal_id for r in customer.reports) == mobiles
    await customer.close()


async def test_long_message_is_billed_per_segment(stack: Stack) -> None:
    platform = stack.running.platform
    customer = await login(stack)

    async def balance() -> int:
        async with platform.engine.connect() as conn:
            found = await account_store.find_account(conn, stack.facts.account)
        assert found is not None
        return found.balance

    before = await balance()
    text = "您的订单已发货，预计明天送达，请保持电话畅通。" * 6  # 138 + signature: 3 segments
    segments = split_message(text, 11)
    version = customer.session.dialect.version  # type: ignore[attr-defined]
    answers = await asyncio.gather(
        *(
            customer.session.send_request(
                CmppSubmit(
                    version=version,
                    tp_udhi=1,
                    msg_fmt=UCS2,
                    dest_terminal_ids=(MOBILE,),
                    msg_content=s.user_data,
                    pk_total=s.total,
                    pk_number=s.number,
                )
            )
            for s in segments
        )
    )
    assert all(isinstance(a, CmppSubmitResp) and a.result == 0 for a in answers)
    assert before - await balance() == 3
    await customer.close()


async def test_active_test_is_answered(stack: Stack) -> None:
    customer = await login(stack)
    answer_ = await customer.session.request(CmppActiveTest())
    assert isinstance(answer_, CmppActiveTestResp)
    await customer.close()


async def test_the_server_sends_active_test_when_the_link_is_idle(
    custom_stack: StackFactory,
) -> None:
    async with custom_stack(access_heartbeat_seconds=0.1) as stack:
        customer = await login(stack)
        heard = asyncio.Event()
        dialect = customer.session.dialect
        observe = dialect.observe

        def spy(pdu: object, direction: object) -> None:
            if isinstance(pdu, CmppActiveTest):
                heard.set()
            observe(pdu, direction)  # type: ignore[arg-type]

        dialect.observe = spy  # type: ignore[method-assign]
        await asyncio.wait_for(heard.wait(), 10)
        assert customer.session.is_open  # answered, so the server keeps the link
        await customer.close()


async def test_stopping_gives_deliveries_in_flight_back(custom_stack: StackFactory) -> None:
    async with custom_stack() as stack:
        customer = await login(stack)
        customer.answering = False
        await customer.submit(["13800138081"], b"order shipped")
        await stack.wait_for(has_reports(customer, 1))
        access = stack.running.access
        assert access is not None
        await access.stop()
        platform = stack.running.platform
        async with platform.engine.connect() as conn:
            demo = await account_store.find_account(conn, stack.facts.account)
            assert demo is not None
            now = platform.clock()
            assert await inbox.count_waiting(conn, inbox.Kind.REPORTS, demo.id, now) == 1
            assert await access_store.list_connections(conn, now) == []
