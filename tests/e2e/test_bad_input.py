"""Bad input gets a clear status and ``msg``, never a 500 and never a half-done request
(SPEC 2.4, 5): nothing is stored and nothing is charged when a request is refused."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from tests.conftest import Stack
from tests.e2e.helpers import (
    ENDPOINTS,
    MOBILE,
    UNICOM,
    answer,
    assert_failure,
    assert_list_failure,
    assert_report_shape,
    assert_send_ok,
    balance,
    collect_reports,
    credentials,
    in_future,
    post,
    send_form,
    stack_headers,
    store_counts,
)


@asynccontextmanager
async def nothing_written(stack: Stack) -> AsyncIterator[None]:
    """Asserts that the block leaves the store and the balance as they were."""
    counts, before = await store_counts(stack), await balance(stack)
    yield
    assert await store_counts(stack) == counts
    assert await balance(stack) == before


def _numbers(count: int) -> list[str]:
    return [f"1380013{i:04d}" for i in range(count)]


async def test_501_numbers_is_102(stack: Stack) -> None:
    async with nothing_written(stack):
        body = await send_form(stack, {"mobile": ",".join(_numbers(501)), "content": "通知"})
        assert_list_failure(body, 102)


async def test_500_distinct_numbers_are_accepted(stack: Stack) -> None:
    """500 distinct entries (and a repeat, which does not count) are within the limit.
    All but one are invalid, so only one message reaches a carrier."""
    invalid = [f"2{i:010d}" for i in range(499)]
    mobiles = [*invalid, MOBILE, MOBILE]
    items = assert_send_ok(await send_form(stack, {"mobile": ",".join(mobiles), "content": "x"}))
    assert len(items) == 500
    assert [i["result"] for i in items] == [1] * 499 + [0]


async def test_bad_extno_is_1(stack: Stack) -> None:
    async with nothing_written(stack):
        for extno in ("12a", "-1", "1 2", "１２", "1234567890123", "0x10", "1.5"):
            body = await send_form(stack, {"mobile": MOBILE, "content": "通知", "extno": extno})
            assert_list_failure(body, 1)


async def test_invalid_numbers_get_result_1_and_a_dx0001_report(stack: Stack) -> None:
    bad = ["12345", "1380013800", "138001380001", "abcdefghijk", "10086"]
    sent = await send_form(stack, {"mobile": ",".join([*bad, MOBILE]), "content": "通知"})
    items = assert_send_ok(sent)
    assert [i["result"] for i in items] == [1] * len(bad) + [0]
    assert [i["mobile"] for i in items][-1] == MOBILE
    reports = await collect_reports(stack, [i["mid"] for i in items])
    for item in items:
        (report,) = reports[item["mid"]]
        assert_report_shape(report)
        expected = "DX:0001" if item["result"] == 1 else "DELIVRD"
        assert report["stat"] == expected
        assert report["mobile"] == item["mobile"]
    assert len(stack.simulators["cmpp"].behaviour.received) == 1


async def test_only_invalid_numbers_is_1_with_nothing_written(stack: Stack) -> None:
    async with nothing_written(stack):
        assert_list_failure(await send_form(stack, {"mobile": "123,456", "content": "x"}), 1)


async def test_missing_or_empty_parameters_are_1(stack: Stack) -> None:
    cases = [
        {"content": "通知"},
        {"mobile": "", "content": "通知"},
        {"mobile": ",,,", "content": "通知"},
        {"mobile": MOBILE},
        {"mobile": MOBILE, "content": "   "},
        {"mobile": MOBILE, "content": "长" * 1001},
    ]
    async with nothing_written(stack):
        for fields in cases:
            assert_list_failure(await send_form(stack, fields), 1)


async def test_bad_sendtime_is_1(stack: Stack) -> None:
    async with nothing_written(stack):
        for sendtime in ("tomorrow", "2020-01-01 00:00:00", in_future(8 * 24 * 3600), "2030-13-01"):
            fields = {"mobile": MOBILE, "content": "通知", "sendtime": sendtime}
            assert_list_failure(await send_form(stack, fields), 1)


async def test_oversized_body_is_1(stack: Stack) -> None:
    huge = "长" * 400_000
    async with nothing_written(stack):
        for endpoint in ENDPOINTS:
            data = {**credentials(stack), "mobile": MOBILE, "content": huge}
            assert_failure(endpoint, answer(await post(stack, f"/{endpoint}", data=data)), 1)


async def test_invalid_utf8_is_1(stack: Stack) -> None:
    account, password = stack.facts.account, stack.facts.password
    form = f"account={account}&password={password}&mobile={MOBILE}&content=%FF%FE".encode()
    raw = f"account={account}&password={password}&mobile={MOBILE}&content=".encode() + b"\xff\xfe"
    as_json = (
        b'{"account":"' + account.encode() + b'","password":"' + password.encode()
        + b'","mobile":"' + MOBILE.encode() + b'","content":"\xc3\x28"}'
    )  # fmt: skip
    async with nothing_written(stack):
        for body in (form, raw, as_json):
            response = await post(
                stack,
                "/smssend",
                content=body,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert_list_failure(answer(response), 1)


async def test_nested_json_and_wrong_types_are_1(stack: Stack) -> None:
    base = {**credentials(stack), "mobile": MOBILE, "content": "通知"}
    bodies: list[object] = [
        {**base, "content": {"text": "通知"}},
        {**base, "mobile": [MOBILE]},
        {**base, "extno": True},
        {**base, "content": None},
        {**base, "account": ["demo"]},
        [base],
        "just a string",
        42,
    ]
    raw = [b'{"account": ', b"{" * 10000 + b"}" * 10000, b'{"a":1}}', b"{,}"]
    async with nothing_written(stack):
        for document in bodies:
            response = await post(stack, "/smssend", content=json.dumps(document))
            assert_list_failure(answer(response), 1)
        for body in raw:
            response = await post(
                stack, "/smssend", content=body, headers={"Content-Type": "application/json"}
            )
            assert_list_failure(answer(response), 1)
        for endpoint in ENDPOINTS:
            document = {**credentials(stack), "size": {"n": 1}}
            response = await post(stack, f"/{endpoint}", content=json.dumps(document))
            assert_failure(endpoint, answer(response), 1)


async def test_bad_size_is_1(stack: Stack) -> None:
    for endpoint, name in (("smsreport", "size"), ("smsmo", "szie"), ("smsmo", "size")):
        data = {**credentials(stack), name: "ten"}
        assert_failure(endpoint, answer(await post(stack, f"/{endpoint}", data=data)), 1)


async def test_control_characters_and_sql_are_refused_cleanly(stack: Stack) -> None:
    async with nothing_written(stack):
        for account in ("demo\x00", "demo\x1b[0m"):
            data = {"account": account, "password": "x", "mobile": MOBILE, "content": "x"}
            assert_list_failure(answer(await post(stack, "/smssend", data=data)), 1)
        for account in ("' OR '1'='1", "demo'; DROP TABLE accounts; --", "demo" * 100):
            for endpoint in ENDPOINTS:
                data = {"account": account, "password": "' OR '1'='1", "mobile": MOBILE}
                data["content"] = "通知"
                body = answer(await post(stack, f"/{endpoint}", data=data))
                assert_failure(endpoint, body, 3)
    # The store is intact after all that.
    items = assert_send_ok(await send_form(stack, {"mobile": UNICOM, "content": "通知"}))
    assert items[0]["result"] == 0


async def test_garbage_never_gets_a_500(stack: Stack) -> None:
    """Random bytes, random content types, random parameter soup: always a JSON answer."""
    rng = random.Random(20240601)
    types = [
        None,
        "application/x-www-form-urlencoded",
        "application/json",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "text/plain; charset=gbk",
        "application/json; charset=gb2312",
    ]
    pieces = [b"account=", b"&", b"=", b"%", b"%zz", b"{", b"}", b'"', b",", b"\x00", b"\xff"]
    pieces += [stack.facts.account.encode(), b"mobile=" + MOBILE.encode(), b"--xyz\r\n"]
    async with nothing_written(stack), httpx.AsyncClient(base_url=stack.facts.url) as client:
        for _ in range(150):
            if rng.random() < 0.5:
                body = bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
            else:
                body = b"".join(rng.choice(pieces) for _ in range(rng.randrange(1, 30)))
            endpoint = rng.choice(ENDPOINTS)
            headers = stack_headers(stack)
            content_type = rng.choice(types)
            if content_type:
                headers["Content-Type"] = content_type
            response = await client.post(f"/{endpoint}", content=body, headers=headers)
            data = answer(response)
            assert data["status"] not in (0, "0"), (body, data)  # no password: never accepted
