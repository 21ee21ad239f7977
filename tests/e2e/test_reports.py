"""/smsreport (SPEC 2.6): every accepted or refused number ends with exactly one report,
handed out once, with the account's spid, the access code the phone saw and a local time."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from duanxin.demo import ACCESS_CODES, SPID
from duanxin.service import admin
from duanxin.store.tables import reports
from tests.conftest import Stack
from tests.e2e.helpers import (
    MOBILE,
    TELECOM,
    UNICOM,
    add_account,
    answer,
    assert_report_shape,
    assert_send_ok,
    balance,
    collect_reports,
    count_rows,
    credentials,
    in_future,
    post,
    pull_reports,
    send_form,
)

NETWORK_OF = {MOBILE: "cmpp", UNICOM: "sgip", TELECOM: "smgp"}


async def test_three_networks_report_once_with_every_field(stack: Stack) -> None:
    started = datetime.now() - timedelta(seconds=1)
    fields = {"mobile": f"{MOBILE},{UNICOM},{TELECOM}", "content": "验证码1234", "extno": "77"}
    items = assert_send_ok(await send_form(stack, fields))
    assert [(i["mobile"], i["result"]) for i in items] == [(m, 0) for m in NETWORK_OF]
    assert len({i["mid"] for i in items}) == 3
    reports = await collect_reports(stack, [i["mid"] for i in items])
    assert set(reports) == {i["mid"] for i in items}
    for item in items:
        (report,) = reports[item["mid"]]
        assert_report_shape(report)
        assert report["mobile"] == item["mobile"]
        assert report["stat"] == "DELIVRD"
        assert report["spid"] == SPID
        assert report["accessCode"] == ACCESS_CODES[NETWORK_OF[item["mobile"]]] + "77"
        when = datetime.strptime(report["time"], "%Y-%m-%d %H:%M:%S")
        assert started <= when <= datetime.now() + timedelta(seconds=1)
    # Each simulator got its own number, from the access code + extno.
    for mobile, protocol in NETWORK_OF.items():
        (received,) = stack.simulators[protocol].behaviour.received
        assert received.destination.endswith(mobile)
        assert received.source == ACCESS_CODES[protocol] + "77"
        assert received.text == "【duanxin】验证码1234"
    # Handed out once: the next pulls are empty lists.
    for _ in range(2):
        again = await pull_reports(stack)
        assert again["status"] == "0" and again["list"] == []


async def test_reports_are_per_account(stack: Stack) -> None:
    other = await add_account(stack, "other", spid="922099")
    mine = assert_send_ok(await send_form(stack, {"mobile": MOBILE, "content": "a"}))
    data = {**other, "mobile": UNICOM, "content": "b"}
    theirs = assert_send_ok(answer(await post(stack, "/smssend", data=data)))
    their_reports = await collect_reports(stack, [theirs[0]["mid"]], account=other)
    assert set(their_reports) == {theirs[0]["mid"]}
    assert their_reports[theirs[0]["mid"]][0]["spid"] == "922099"
    my_reports = await collect_reports(stack, [mine[0]["mid"]])
    assert set(my_reports) == {mine[0]["mid"]}


async def test_size_is_clamped(stack: Stack) -> None:
    mobiles = [f"1390013{i:04d}" for i in range(25)]
    items = assert_send_ok(await send_form(stack, {"mobile": ",".join(mobiles), "content": "x"}))
    mids = {i["mid"] for i in items}

    async def stored() -> bool:
        return await count_rows(stack, reports) == 25

    await stack.wait_for(stored, timeout=20)
    first = await pull_reports(stack, size="1")  # clamped up to 10
    assert len(first["list"]) == 10
    second = await pull_reports(stack, size="-5")
    assert len(second["list"]) == 10
    third = await pull_reports(stack, size="99999999999999999999999")  # clamped to 10000
    assert len(third["list"]) == 5
    pulled = [r["mid"] for r in first["list"] + second["list"] + third["list"]]
    assert len(pulled) == len(set(pulled)) and set(pulled) == mids
    times = [r["time"] for r in first["list"] + second["list"] + third["list"]]
    assert times == sorted(times)  # oldest first


async def test_fifty_numbers_one_report_each(stack: Stack) -> None:
    spread = (("38", 20), ("86", 15), ("89", 15))
    mobiles = [f"1{p}{i:08d}" for p, count in spread for i in range(count)]
    items = assert_send_ok(await send_form(stack, {"mobile": ",".join(mobiles), "content": "通知"}))
    assert len(items) == 50 and all(i["result"] == 0 for i in items)
    reports = await collect_reports(stack, [i["mid"] for i in items])
    assert {mid: len(r) for mid, r in reports.items()} == {i["mid"]: 1 for i in items}
    assert all(r[0]["stat"] == "DELIVRD" for r in reports.values())
    assert (await pull_reports(stack))["list"] == []
    received = sum(len(s.behaviour.received) for s in stack.simulators.values())
    assert received == 50


async def test_long_message_one_report_per_number(stack: Stack) -> None:
    content = "长" * 190  # with the 5-character signature: 195 UCS-2 units = 3 segments
    before = await balance(stack)
    fields = {"mobile": f"{MOBILE},{UNICOM},{TELECOM}", "content": content}
    sent = await send_form(stack, fields)
    items = assert_send_ok(sent)
    assert sent["balance"] == before - 3 * 3
    reports = await collect_reports(stack, [i["mid"] for i in items])
    assert {mid: len(r) for mid, r in reports.items()} == {i["mid"]: 1 for i in items}
    assert all(r[0]["stat"] == "DELIVRD" for r in reports.values())
    for protocol in ("cmpp", "sgip", "smgp"):
        behaviour = stack.simulators[protocol].behaviour
        (message,) = behaviour.received
        assert message.text == "【duanxin】" + content
        assert len(message.carrier_ids) == 3
    assert (await pull_reports(stack))["list"] == []


async def test_scheduled_send_goes_out_after_its_time(stack: Stack) -> None:
    sendtime = in_future(2)
    due = datetime.strptime(sendtime, "%Y-%m-%d %H:%M:%S")
    fields = {"mobile": MOBILE, "content": "定时通知", "sendtime": sendtime}
    items = assert_send_ok(await send_form(stack, fields))
    behaviour = stack.simulators["cmpp"].behaviour
    assert behaviour.received == []
    assert (await pull_reports(stack))["list"] == []

    async def arrived() -> bool:
        return bool(behaviour.received)

    await stack.wait_for(arrived, timeout=20)
    (message,) = behaviour.received
    assert message.received_at >= due
    reports = await collect_reports(stack, [items[0]["mid"]])
    assert reports[items[0]["mid"]][0]["stat"] == "DELIVRD"
    assert len(behaviour.received) == 1


async def test_refused_numbers_report_too(stack: Stack) -> None:
    """Every entry of every list ends with exactly one report (no channel: DX:0100)."""
    await admin.add_route(stack.running.platform, stack.facts.account, "ctcc", [])
    fields = {"mobile": f"{MOBILE},{TELECOM},123", "content": "通知"}
    items = assert_send_ok(await send_form(stack, fields))
    assert [i["result"] for i in items] == [0, 100, 1]
    reports = await collect_reports(stack, [i["mid"] for i in items])
    stats = {i["mobile"]: reports[i["mid"]][0]["stat"] for i in items}
    assert stats == {MOBILE: "DELIVRD", TELECOM: "DX:0100", "123": "DX:0001"}
    assert all(len(r) == 1 for r in reports.values())
    data = {**credentials(stack)}
    assert answer(await post(stack, "/smsreport", data=data))["list"] == []


async def test_concurrent_pulls_hand_each_report_out_once(stack: Stack) -> None:
    mobiles = [f"1390013{i:04d}" for i in range(60)]
    items = assert_send_ok(await send_form(stack, {"mobile": ",".join(mobiles), "content": "x"}))

    async def stored() -> bool:
        return await count_rows(stack, reports) == 60

    await stack.wait_for(stored, timeout=20)
    seen: set[str] = set()
    for _ in range(3):
        pulls = await asyncio.gather(*(pull_reports(stack, size="10") for _ in range(8)))
        if all(p["list"] == [] for p in pulls):
            break
        pulled = [r["mid"] for p in pulls for r in p["list"]]
        assert len(pulled) == len(set(pulled)), "a report was handed out twice"
        assert seen.isdisjoint(pulled)
        seen.update(pulled)
    assert seen == {i["mid"] for i in items}
