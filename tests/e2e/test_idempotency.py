"""Idempotent sends (SPEC 2.8): a repeated ``Idempotency-Key`` (or ``reqid``) gets the first
answer byte for byte and sends and charges nothing; the same key with other parameters is 1."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from tests.conftest import Stack
from tests.e2e.helpers import (
    MOBILE,
    UNICOM,
    add_account,
    answer,
    assert_list_failure,
    assert_send_ok,
    balance,
    collect_reports,
    credentials,
    post,
    pull_reports,
    store_counts,
)

FIELDS = {"mobile": f"{MOBILE},{UNICOM}", "content": "您的订单已发货"}
CODE = "您的验证码是1234"  # a verification code: one a minute per number


async def _send(stack: Stack, key: str | None = None, **fields: str) -> bytes:
    data = {**credentials(stack), **FIELDS, **fields}
    headers = {"Idempotency-Key": key} if key else {}
    response = await post(stack, "/smssend", data=data, headers=headers)
    answer(response)
    return response.content


def answer_bytes(body: bytes) -> dict[str, Any]:
    data = json.loads(body)
    assert isinstance(data, dict)
    return data


def _received(stack: Stack) -> int:
    return sum(len(s.behaviour.received) for s in stack.simulators.values())


async def test_repeat_gets_the_first_answer_and_charges_once(stack: Stack) -> None:
    first = await _send(stack, "order-1001")
    items = assert_send_ok(answer_bytes(first))
    reports = await collect_reports(stack, [i["mid"] for i in items])
    counts = await store_counts(stack)
    charged = await balance(stack)
    assert charged == -2
    for _ in range(3):
        assert await _send(stack, "order-1001") == first
    assert await store_counts(stack) == counts
    assert await balance(stack) == charged
    assert _received(stack) == 2
    assert sum(len(r) for r in reports.values()) == 2
    assert (await pull_reports(stack))["list"] == []


async def test_same_key_other_parameters_is_1(stack: Stack) -> None:
    first = await _send(stack, "order-1002")
    items = assert_send_ok(answer_bytes(first))
    await collect_reports(stack, [i["mid"] for i in items])  # the store settles
    counts = await store_counts(stack)
    for changed in ({"content": "您的订单已签收"}, {"mobile": MOBILE}, {"extno": "12"}):
        assert_list_failure(answer_bytes(await _send(stack, "order-1002", **changed)), 1)
    assert await store_counts(stack) == counts
    assert await _send(stack, "order-1002") == first


async def test_reqid_parameter(stack: Stack) -> None:
    first = await _send(stack, reqid="r-42")
    assert_send_ok(answer_bytes(first))
    assert await _send(stack, reqid="r-42") == first
    # The header and the parameter name the same key.
    assert await _send(stack, "r-42") == first
    assert_list_failure(answer_bytes(await _send(stack, reqid="r-42", content="其它")), 1)
    assert await balance(stack) == -2


async def test_different_keys_send_again(stack: Stack) -> None:
    one = answer_bytes(await _send(stack, "k-1"))
    two = answer_bytes(await _send(stack, "k-2"))
    assert {i["mid"] for i in one["list"]}.isdisjoint({i["mid"] for i in two["list"]})
    assert await balance(stack) == -4


async def test_keys_belong_to_one_account(stack: Stack) -> None:
    other = await add_account(stack, "other")
    mine = await _send(stack, "shared-key")
    data = {**other, **FIELDS}
    response = await post(stack, "/smssend", data=data, headers={"Idempotency-Key": "shared-key"})
    theirs = answer(response)
    assert_send_ok(theirs)
    assert response.content != mine


async def test_bad_keys_are_1(stack: Stack) -> None:
    counts = await store_counts(stack)
    for key in ("k" * 65, "ключ"):
        data = {**credentials(stack), **FIELDS, "reqid": key}
        assert_list_failure(answer(await post(stack, "/smssend", data=data)), 1)
    assert await store_counts(stack) == counts


async def test_concurrent_repeats_send_once(stack: Stack) -> None:
    # A verification code: a repeat counted against the per-minute limit would answer 5.
    bodies = await asyncio.gather(*(_send(stack, "burst-1", content=CODE) for _ in range(5)))
    assert len(set(bodies)) == 1
    assert_send_ok(answer_bytes(bodies[0]))
    assert await balance(stack) == -2

    async def delivered() -> bool:
        return _received(stack) >= 2

    await stack.wait_for(delivered)
    items = answer_bytes(bodies[0])["list"]
    await collect_reports(stack, [i["mid"] for i in items])
    assert _received(stack) == 2
