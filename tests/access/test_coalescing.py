"""SUBMITs that arrive together, accepted together: each still answered, billed and reported
as if it had come alone (real sockets: our CMPP and SMPP clients, and smpplib)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

import smpplib.client
import smpplib.consts

from duanxin.access.coalesce import Coalescer, Submitted
from duanxin.access.tables import cmpp_submit_result
from duanxin.domain.accounts import Interface
from duanxin.domain.billing import ChargeType
from duanxin.domain.status import Status
from duanxin.protocols.cmpp.pdu import CmppSubmit, CmppSubmitResp
from duanxin.protocols.smpp import pdu as p
from duanxin.protocols.smpp.pdu import CommandStatus
from duanxin.protocols.smpp.tlv import TlvTag, tlv_text
from duanxin.service import admin, lists
from duanxin.service.accounts import Caller
from duanxin.service.send import OneNumber, send_each
from duanxin.store.tables import ledger, messages
from tests.access.conftest import address
from tests.access.customers import CmppCustomer, cmpp_customer, smpp_customer
from tests.conftest import Stack
from tests.e2e.helpers import count_rows

TEXT = "您的订单已发货"
MOBILES = [f"138001390{n:02d}" for n in range(16)]


async def login(stack: Stack) -> CmppCustomer:
    return await cmpp_customer(*address(stack, "cmpp"), stack.facts.account, stack.facts.password)


async def submit_at_once(customer: CmppCustomer, mobiles: Sequence[str]) -> list[CmppSubmitResp]:
    """One SUBMIT per number, all written in one go (one socket read on the server)."""
    version = customer.session.dialect.version  # type: ignore[attr-defined]
    futures = [
        customer.session.send_request(
            CmppSubmit(
                version=version,
                dest_terminal_ids=(mobile,),
                msg_fmt=8,
                registered_delivery=1,
                msg_content=TEXT.encode("utf-16-be"),
            )
        )
        for mobile in mobiles
    ]
    answers = await asyncio.gather(*futures)
    assert all(isinstance(a, CmppSubmitResp) for a in answers)
    return [a for a in answers if isinstance(a, CmppSubmitResp)]


def reported(customer: CmppCustomer, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return len(customer.reports) >= count

    return check


async def test_a_window_of_submits_each_gets_its_own_id_and_one_report(stack: Stack) -> None:
    customer = await login(stack)
    answers = await submit_at_once(customer, MOBILES)
    assert [a.result for a in answers] == [0] * 16
    ids = [a.msg_id for a in answers]
    assert len(set(ids)) == 16
    await stack.wait_for(reported(customer, 16))
    assert Counter(r.msg_id for r in customer.reports) == Counter(ids)
    by_id = {r.msg_id: r.dest_terminal_id for r in customer.reports}
    assert [by_id[i] for i in ids] == MOBILES  # each id's report is its own number's
    assert sorted(m.destination for m in stack.simulators["cmpp"].behaviour.received) == MOBILES
    await customer.close()


async def test_submits_to_one_number_stay_separate_messages(stack: Stack) -> None:
    customer = await login(stack)
    mobiles = [MOBILES[0], MOBILES[1], MOBILES[0], "+86" + MOBILES[0], MOBILES[2]]
    charged = await count_rows(stack, messages)
    answers = await submit_at_once(customer, mobiles)
    assert [a.result for a in answers] == [0] * 5
    ids = [a.msg_id for a in answers]
    assert len(set(ids)) == 5
    await stack.wait_for(reported(customer, 5))
    assert Counter(r.msg_id for r in customer.reports) == Counter(ids)
    received = Counter(m.destination for m in stack.simulators["cmpp"].behaviour.received)
    assert received == {MOBILES[0]: 3, MOBILES[1]: 1, MOBILES[2]: 1}
    assert await count_rows(stack, messages) == charged + 5
    await customer.close()


async def test_a_balance_short_of_the_batch_answers_each_submit_in_turn(stack: Stack) -> None:
    platform = stack.running.platform
    await admin.set_account(platform, stack.facts.account, {"charge_type": ChargeType.PRECHARGE})
    await admin.recharge(platform, stack.facts.account, 3)
    customer = await login(stack)
    answers = await submit_at_once(customer, MOBILES[:5])
    refused = cmpp_submit_result(Status.OTHER)
    assert [a.result for a in answers] == [0, 0, 0, refused, refused]
    assert [a.msg_id for a in answers][3:] == [0, 0]
    await stack.wait_for(reported(customer, 3))
    assert sorted(r.msg_id for r in customer.reports) == sorted(a.msg_id for a in answers[:3])
    sent = [m.destination for m in stack.simulators["cmpp"].behaviour.received]
    assert sorted(sent) == MOBILES[:3]
    await customer.close()


async def test_the_tps_limit_still_counts_every_submit(stack: Stack) -> None:
    platform = stack.running.platform
    platform.monotonic = lambda: 1000.0  # a clock that stands still: no token comes back
    await admin.set_account(platform, stack.facts.account, {"tps": 2})
    customer = await login(stack)
    answers = await submit_at_once(customer, MOBILES[:5])
    assert [a.result for a in answers] == [0, 0, 8, 8, 8]
    await stack.wait_for(reported(customer, 2))
    assert sorted(r.msg_id for r in customer.reports) == sorted(a.msg_id for a in answers[:2])
    await customer.close()


async def test_a_number_the_batch_cannot_take_gets_its_own_refusal(stack: Stack) -> None:
    platform = stack.running.platform
    await lists.blacklist_add(platform, [MOBILES[1]], "test")
    customer = await login(stack)
    stored = await count_rows(stack, messages)
    answers = await submit_at_once(customer, [MOBILES[0], MOBILES[1], "12345", MOBILES[2]])
    results = [a.result for a in answers]
    assert results == [0, cmpp_submit_result(Status.OTHER), cmpp_submit_result(Status.MALFORMED), 0]
    assert answers[1].msg_id == answers[2].msg_id == 0
    assert await count_rows(stack, messages) == stored + 2  # nothing kept for the refused
    await stack.wait_for(reported(customer, 2))
    assert sorted(r.msg_id for r in customer.reports) == sorted(
        [answers[0].msg_id, answers[3].msg_id]
    )
    await customer.close()


async def test_numbers_sent_together_are_one_charge_with_an_id_each(stack: Stack) -> None:
    platform = stack.running.platform
    charges = await count_rows(stack, ledger)
    outcomes = await send_each(
        platform,
        stack.facts.account,
        stack.facts.password,
        [OneNumber(m, TEXT) for m in MOBILES[:6]],
        Caller(Interface.CMPP, "127.0.0.1"),
    )
    assert [o.status for o in outcomes] == [Status.OK] * 6
    entries = [o.entries[0] for o in outcomes if o.entries]
    assert [e.mobile for e in entries] == MOBILES[:6]
    assert len({e.mid for e in entries}) == 6
    assert await count_rows(stack, ledger) == charges + 1  # one debit for the six


async def test_smpp_submits_at_once_are_answered_each_and_throttled_each(stack: Stack) -> None:
    platform = stack.running.platform
    platform.monotonic = lambda: 500.0
    await admin.set_account(platform, stack.facts.account, {"tps": 3})
    customer = await smpp_customer(
        *address(stack, "smpp"), stack.facts.account, stack.facts.password
    )
    futures = [
        customer.session.send_request(
            p.SubmitSm(destination_addr=m, short_message=b"order shipped", registered_delivery=1)
        )
        for m in [MOBILES[0], MOBILES[0], MOBILES[1], MOBILES[2]]
    ]
    answers = [a for a in await asyncio.gather(*futures) if isinstance(a, p.SubmitSmResp)]
    statuses = [a.command_status for a in answers]
    assert statuses == [0, 0, 0, CommandStatus.ESME_RTHROTTLED]
    ids = [a.message_id for a in answers[:3]]
    assert len(set(ids)) == 3 and answers[3].message_id == ""

    async def receipted() -> bool:
        return sum(1 for d in customer.delivers if d.esm_class == p.ESM_DELIVERY_RECEIPT) >= 3

    await stack.wait_for(receipted)
    got = [
        tlv_text(d.tlvs, TlvTag.RECEIPTED_MESSAGE_ID)
        for d in customer.delivers
        if d.esm_class == p.ESM_DELIVERY_RECEIPT
    ]
    assert sorted(got) == sorted(ids)
    await customer.close()


def _smpplib_many(
    host: str, port: int, account: str, password: str, mobiles: list[str]
) -> tuple[list[str], list[str]]:
    """smpplib sends every submit_sm before reading any answer; the ids, then the receipts'."""
    ids: list[str] = []
    receipts: list[str] = []
    client = smpplib.client.Client(host, port, timeout=2.0, allow_unknown_opt_params=True)
    client.set_message_sent_handler(lambda pdu: ids.append(pdu.message_id.decode("ascii")))
    client.set_message_received_handler(
        lambda pdu: receipts.append(pdu.receipted_message_id.decode("ascii"))
    )
    client.connect()
    try:
        client.bind_transceiver(system_id=account, password=password)
        for mobile in mobiles:
            client.send_message(destination_addr=mobile, short_message=b"order 42 shipped",
                                data_coding=smpplib.consts.SMPP_ENCODING_DEFAULT,
                                registered_delivery=1)  # fmt: skip
        deadline = time.monotonic() + 10.0
        while (
            len(ids) < len(mobiles) or len(receipts) < len(mobiles)
        ) and time.monotonic() < deadline:
            client.read_once()
        client.unbind()
    finally:
        client.disconnect()
    return ids, receipts


async def test_smpplib_submits_in_a_row_each_get_an_id_and_a_receipt(stack: Stack) -> None:
    mobiles = [*MOBILES[:6], MOBILES[0]]
    ids, receipts = await asyncio.to_thread(
        _smpplib_many, *address(stack, "smpp"), stack.facts.account, stack.facts.password, mobiles
    )
    assert len(ids) == 7 and len(set(ids)) == 7
    assert sorted(receipts) == sorted(ids)


# ------------------------------------------------------------------ the gathering itself


async def test_a_turns_submits_go_in_one_call_each_answered_with_its_own_outcome() -> None:
    calls: list[list[tuple[str, str]]] = []

    async def send(messages: list[tuple[str, str]]) -> list[Submitted]:
        calls.append(messages)
        return [Submitted(Status.OK, (f"{text}:{mobile}",)) for mobile, text in messages]

    together: Coalescer[str] = Coalescer(send)
    first = [together.add(m, "hi", lambda s: s.ids[0]) for m in ("1", "2", "1")]
    assert await asyncio.gather(*first) == ["hi:1", "hi:2", "hi:1"]
    later = together.add("3", "bye", lambda s: s.ids[0])  # alone: goes at the next turn
    assert await later == "bye:3"
    assert calls == [[("1", "hi"), ("2", "hi"), ("1", "hi")], [("3", "bye")]]


async def test_a_failed_call_reaches_every_submit_of_the_turn() -> None:
    async def fail(messages: list[tuple[str, str]]) -> list[Submitted]:
        raise RuntimeError("store gone")

    together: Coalescer[str] = Coalescer(fail)
    futures = [together.add(m, "x", lambda s: "") for m in ("1", "2")]
    results = await asyncio.gather(*futures, return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
