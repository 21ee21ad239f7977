"""/smsmo (SPEC 2.7): replies reach the account whose access code + extno is the longest
prefix of the number replied to, long replies merged, and opt-out words honoured."""

from __future__ import annotations

from typing import Any

import httpx

from duanxin.demo import ACCESS_CODES, SPID
from duanxin.store.tables import replies as replies_table
from tests.conftest import Stack
from tests.e2e.helpers import (
    MOBILE,
    TELECOM,
    UNICOM,
    add_account,
    answer,
    assert_list_failure,
    assert_reply_shape,
    assert_send_ok,
    balance,
    collect_reports,
    count_rows,
    credentials,
    post,
    pull_replies,
    send_form,
)

CMPP_CODE = ACCESS_CODES["cmpp"]


async def demo_mo(stack: Stack, mobile: str, to: str, content: str) -> None:
    """The demo endpoint: the right simulator sends the reply, as a phone's would arrive."""
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        response = await client.post(
            "/demo/mo", data={"mobile": mobile, "to": to, "content": content}
        )
    assert response.status_code == 200
    assert response.json()["status"] == 0, response.text


async def wait_replies(
    stack: Stack, count: int, account: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Pull until ``count`` replies came; fail if more come."""
    got: list[dict[str, Any]] = []

    async def enough() -> bool:
        data = {**(account or credentials(stack)), "action": "mo", "szie": "1000"}
        result = answer(await post(stack, "/smsmo", data=data))
        assert result["status"] == "0", result
        got.extend(result["list"])
        return len(got) >= count

    await stack.wait_for(enough, timeout=20)
    assert len(got) == count, got
    return got


async def test_demo_mo_reply_reaches_the_account(stack: Stack) -> None:
    await demo_mo(stack, MOBILE, CMPP_CODE, "收到，谢谢")
    (reply,) = await wait_replies(stack, 1)
    assert_reply_shape(reply)
    assert reply["mobile"] == MOBILE
    assert reply["content"] == "收到，谢谢"
    assert reply["accessCode"] == CMPP_CODE
    assert reply["spid"] == SPID
    # Handed out once.
    assert (await pull_replies(stack))["list"] == []


async def test_replies_on_every_network(stack: Stack) -> None:
    senders = {MOBILE: "cmpp", UNICOM: "sgip", TELECOM: "smgp"}
    for mobile, protocol in senders.items():
        await stack.simulators[protocol].inject_mo(mobile, ACCESS_CODES[protocol] + "5", "好的")
    replies = await wait_replies(stack, 3)
    assert {(r["mobile"], r["accessCode"]) for r in replies} == {
        (m, ACCESS_CODES[p] + "5") for m, p in senders.items()
    }
    for reply in replies:
        assert_reply_shape(reply)
        assert reply["content"] == "好的"


async def test_longest_prefix_routing(stack: Stack) -> None:
    """demo has no extno, ``eight`` has 8, ``eighty8`` has 88: the longest match wins."""
    eight = await add_account(stack, "eight", extno="8", spid="922008")
    eighty8 = await add_account(stack, "eighty8", extno="88", spid="922088")
    await demo_mo(stack, MOBILE, CMPP_CODE + "885", "to 88")
    await demo_mo(stack, UNICOM, ACCESS_CODES["sgip"] + "89", "to 8")
    await demo_mo(stack, TELECOM, ACCESS_CODES["smgp"] + "7", "to demo")
    (to_88,) = await wait_replies(stack, 1, eighty8)
    assert (to_88["content"], to_88["accessCode"], to_88["spid"]) == (
        "to 88",
        CMPP_CODE + "885",
        "922088",
    )
    (to_8,) = await wait_replies(stack, 1, eight)
    assert (to_8["content"], to_8["spid"]) == ("to 8", "922008")
    (to_demo,) = await wait_replies(stack, 1)
    assert to_demo["content"] == "to demo"


async def test_replies_to_a_send_with_extno_come_back(stack: Stack) -> None:
    """A send with extno goes out from access code + extno; the phone's reply to that
    number comes back to the sender."""
    items = assert_send_ok(
        await send_form(stack, {"mobile": MOBILE, "content": "回复1确认", "extno": "42"})
    )
    await collect_reports(stack, [items[0]["mid"]])
    (received,) = stack.simulators["cmpp"].behaviour.received
    await stack.simulators["cmpp"].inject_mo(MOBILE, received.source, "1")
    (reply,) = await wait_replies(stack, 1)
    assert (reply["accessCode"], reply["content"]) == (CMPP_CODE + "42", "1")


async def test_long_replies_are_merged(stack: Stack) -> None:
    text = "这是一条很长的上行回复，" * 12  # 144 characters: three UCS-2 segments
    ascii_text = "A long reply in plain ASCII that will not fit in one message. " * 4
    for protocol, mobile in (("cmpp", MOBILE), ("sgip", UNICOM), ("smgp", TELECOM)):
        await stack.simulators[protocol].inject_mo(mobile, ACCESS_CODES[protocol], text)
    await stack.simulators["cmpp"].inject_mo(MOBILE, CMPP_CODE + "1", ascii_text)
    replies = await wait_replies(stack, 4)
    by_code = {r["accessCode"]: r["content"] for r in replies}
    assert by_code == {
        CMPP_CODE: text,
        ACCESS_CODES["sgip"]: text,
        ACCESS_CODES["smgp"]: text,
        CMPP_CODE + "1": ascii_text,
    }


async def test_szie_and_size_are_clamped(stack: Stack) -> None:
    for n in range(12):
        await stack.simulators["cmpp"].inject_mo(MOBILE, CMPP_CODE, f"reply {n}")

    async def stored() -> bool:
        return await count_rows(stack, replies_table) == 12

    await stack.wait_for(stored)
    first = await pull_replies(stack, szie="1")
    assert len(first["list"]) == 10
    second = await pull_replies(stack, size="5000")
    assert [r["content"] for r in first["list"] + second["list"]] == [
        f"reply {n}" for n in range(12)
    ]  # oldest first


async def test_opt_out_then_send_is_refused_for_that_number(stack: Stack) -> None:
    other = await add_account(stack, "other", extno="9")
    await demo_mo(stack, MOBILE, CMPP_CODE, " td ")
    (reply,) = await wait_replies(stack, 1)
    assert reply["content"].strip().upper() == "TD"
    before = await balance(stack)
    sent = await send_form(stack, {"mobile": f"{MOBILE},{UNICOM}", "content": "营销信息"})
    items = assert_send_ok(sent)
    assert [(i["mobile"], i["result"]) for i in items] == [(MOBILE, 5), (UNICOM, 0)]
    assert sent["balance"] == before - 1  # the opted-out number is not charged
    reports = await collect_reports(stack, [i["mid"] for i in items])
    assert reports[items[0]["mid"]][0]["stat"] == "DX:0005"
    assert len(reports[items[0]["mid"]]) == 1
    assert reports[items[1]["mid"]][0]["stat"] == "DELIVRD"
    assert stack.simulators["cmpp"].behaviour.received == []
    # A batch of opted-out numbers only is refused as a whole, with 5.
    assert_list_failure(await send_form(stack, {"mobile": MOBILE, "content": "再次营销"}), 5)
    # The opt-out belongs to the account the reply reached: the other one still sends.
    data = {**other, "mobile": MOBILE, "content": "通知"}
    theirs = assert_send_ok(answer(await post(stack, "/smssend", data=data)))
    assert theirs[0]["result"] == 0


async def test_every_opt_out_word(stack: Stack) -> None:
    words = ["TD", "t", "N", "0000", "退订", "Td"]
    mobiles = [f"1380013{n:04d}" for n in range(len(words))]
    for mobile, word in zip(mobiles, words, strict=True):
        await demo_mo(stack, mobile, CMPP_CODE, word)
    await wait_replies(stack, len(words))
    await demo_mo(stack, "13900139000", CMPP_CODE, "TD please")  # not an opt-out
    await wait_replies(stack, 1)
    sent = await send_form(stack, {"mobile": ",".join([*mobiles, "13900139000"]), "content": "x"})
    assert [i["result"] for i in assert_send_ok(sent)] == [5] * len(words) + [0]
