"""The four endpoints' JSON shapes, at ``/x`` and ``/release/x``, however parameters arrive.

SPEC 2, 2.3–2.7: ``status`` is a string in /smssend, /smsreport and /smsmo and an integer
in /smsoverage; ``list`` is null on failure and [] on an empty pull; bodies are form, JSON
(with the curl sample's trailing comma) or query string.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from duanxin.domain.accounts import AccessType
from duanxin.service import admin
from tests.conftest import Stack
from tests.e2e.helpers import (
    MOBILE,
    PREFIXES,
    UNICOM,
    add_account,
    answer,
    assert_failure,
    assert_send_ok,
    credentials,
    post,
)

# Sends last, so that the pulls before them find nothing yet (an empty list).
ENDPOINTS = ("smsoverage", "smsreport", "smsmo", "smssend")
ACTIONS = {"smssend": "send", "smsoverage": "balance", "smsreport": "report", "smsmo": "mo"}
SEND_FIELDS = {"mobile": MOBILE, "content": "您的验证码是1234"}


def _fields(endpoint: str) -> dict[str, str]:
    return dict(SEND_FIELDS) if endpoint == "smssend" else {}


def _assert_success(endpoint: str, data: dict[str, object]) -> None:
    if endpoint == "smsoverage":
        assert set(data) == {"status", "balance", "chargeType", "msg"}
        assert data["status"] == 0 and type(data["status"]) is int
        assert type(data["balance"]) is int
        assert data["chargeType"] == "POSTCHARGE"
        assert data["msg"] == "ok"
    elif endpoint == "smssend":
        assert set(data) == {"status", "balance", "list", "msg"}
        items = assert_send_ok(data)
        assert [i["mobile"] for i in items] == [MOBILE]
        assert items[0]["result"] == 0
    else:
        assert set(data) == {"status", "balance", "list", "msg"}
        assert data["status"] == "0"
        assert type(data["balance"]) is int
        assert data["list"] == []  # nothing to pull yet: an empty list, not null
        assert data["msg"] == "ok"


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_every_endpoint_answers_its_success_shape(stack: Stack, prefix: str) -> None:
    for endpoint in ENDPOINTS:
        data = {**credentials(stack), "action": ACTIONS[endpoint], "rt": "json"}
        data.update(_fields(endpoint))
        if endpoint == "smssend":
            del data["action"]  # the published send samples send no action
        response = await post(stack, f"{prefix}/{endpoint}", data=data)
        _assert_success(endpoint, answer(response))


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_wrong_password_is_3_in_each_failure_shape(stack: Stack, prefix: str) -> None:
    for endpoint in ENDPOINTS:
        data = {"account": stack.facts.account, "password": "wrong", **_fields(endpoint)}
        response = await post(stack, f"{prefix}/{endpoint}", data=data)
        body = answer(response)
        assert set(body) == (
            {"status", "balance", "chargeType", "msg"}
            if endpoint == "smsoverage"
            else {"status", "balance", "list", "msg"}
        )
        assert_failure(endpoint, body, 3)


async def test_unknown_account_and_missing_account_are_3(stack: Stack) -> None:
    for endpoint in ENDPOINTS:
        for data in ({"account": "nobody", "password": "x"}, {}):
            body = answer(await post(stack, f"/{endpoint}", data={**data, **_fields(endpoint)}))
            assert_failure(endpoint, body, 3)


async def test_json_body(stack: Stack) -> None:
    for endpoint in ENDPOINTS:
        document = {**credentials(stack), "rt": "json", **_fields(endpoint)}
        response = await post(
            stack,
            f"/release/{endpoint}",
            content=json.dumps(document, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
        )
        _assert_success(endpoint, answer(response))


async def test_curl_sample_body_with_trailing_comma(stack: Stack) -> None:
    """The curl sample: ``--data '{...,"szie":"1000",}'`` sent as a form content type."""
    account, password = stack.facts.account, stack.facts.password
    bodies = {
        "smsmo": '{"account":"%s","action":"mo","password":"%s","rt":"json","szie":"1000",}',
        "smsoverage": '{"account":"%s","action":"balance","password":"%s","rt":"json",}',
        "smsreport": '{"account":"%s","password":"%s","rt":"json","size":"1000",}',
        "smssend": '{"account":"%s","content":"验证码1234","extno":"","mobile":"'
        + MOBILE
        + '","password":"%s","rt":"json",}',
    }
    for endpoint, template in bodies.items():
        body = (template % (account, password)).encode()
        response = await post(
            stack,
            f"/release/{endpoint}",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        _assert_success(endpoint, answer(response))


async def test_json_numbers_are_accepted_as_values(stack: Stack) -> None:
    document = {**credentials(stack), "size": 1000, "szie": 10}
    for endpoint in ("smsreport", "smsmo"):
        response = await post(stack, f"/{endpoint}", content=json.dumps(document))
        _assert_success(endpoint, answer(response))


async def test_query_string_parameters(stack: Stack) -> None:
    for endpoint in ENDPOINTS:
        params = {**credentials(stack), "rt": "json", **_fields(endpoint)}
        response = await post(stack, f"/{endpoint}", params=params)
        _assert_success(endpoint, answer(response))


async def test_unknown_parameters_are_ignored(stack: Stack) -> None:
    for endpoint in ENDPOINTS:
        data = {**credentials(stack), "foo": "bar", "_": "1", **_fields(endpoint)}
        _assert_success(endpoint, answer(await post(stack, f"/{endpoint}", data=data)))


async def test_action_mismatch_is_1(stack: Stack) -> None:
    for endpoint in ENDPOINTS:
        for action in ("send", "balance", "report", "mo", "other"):
            if action == ACTIONS[endpoint]:
                continue
            data = {**credentials(stack), "action": action, **_fields(endpoint)}
            body = answer(await post(stack, f"/{endpoint}", data=data))
            assert_failure(endpoint, body, 1)


async def test_matching_action_in_any_case_is_accepted(stack: Stack) -> None:
    for endpoint in ENDPOINTS:
        data = {**credentials(stack), "action": ACTIONS[endpoint].upper(), **_fields(endpoint)}
        _assert_success(endpoint, answer(await post(stack, f"/{endpoint}", data=data)))


async def test_rt_other_than_json_is_1(stack: Stack) -> None:
    for endpoint in ENDPOINTS:
        for rt in ("xml", "text", "jsonp"):
            data = {**credentials(stack), "rt": rt, **_fields(endpoint)}
            body = answer(await post(stack, f"/{endpoint}", data=data))
            assert_failure(endpoint, body, 1)


async def test_account_states_and_access_codes(stack: Stack) -> None:
    """7 disabled, 2 IP not in whitelist, 6 CMPP-only access: on every endpoint."""
    platform = stack.running.platform
    extra = await add_account(stack, "second")
    cases = [
        ({"state": "disabled"}, 7),
        ({"state": "frozen"}, 7),
        ({"ip_whitelist": "10.0.0.0/8,192.168.1.1"}, 2),
        ({"access_type": AccessType.CMPP.value}, 6),
    ]
    for changes, status in cases:
        await admin.set_account(platform, "second", changes)
        for endpoint in ENDPOINTS:
            data = {**extra, **_fields(endpoint)}
            assert_failure(endpoint, answer(await post(stack, f"/{endpoint}", data=data)), status)
        await admin.set_account(
            platform,
            "second",
            {"state": "active", "ip_whitelist": "", "access_type": AccessType.HTTP.value},
        )
    # A whitelist that holds the caller, and access type "both", let the request through.
    await admin.set_account(
        platform, "second", {"ip_whitelist": "127.0.0.1", "access_type": AccessType.BOTH.value}
    )
    for endpoint in ENDPOINTS:
        data = {**extra, **_fields(endpoint)}
        body = answer(await post(stack, f"/{endpoint}", data=data))
        assert body["status"] in (0, "0"), body


async def test_check_order_wrong_password_before_disabled(stack: Stack) -> None:
    await admin.set_account(stack.running.platform, stack.facts.account, {"state": "disabled"})
    data = {"account": stack.facts.account, "password": "wrong"}
    assert_failure("smsreport", answer(await post(stack, "/smsreport", data=data)), 3)


async def test_too_many_concurrent_requests_is_21(stack: Stack) -> None:
    platform = stack.running.platform
    account = await admin.set_account(platform, stack.facts.account, {"max_concurrency": 1})
    async with platform.request_slot(account.id, 1):  # one request already in flight
        for endpoint in ENDPOINTS:
            data = {**credentials(stack), **_fields(endpoint)}
            body = answer(await post(stack, f"/{endpoint}", data=data))
            assert_failure(endpoint, body, 21)
    for endpoint in ENDPOINTS:
        data = {**credentials(stack), **_fields(endpoint)}
        _assert_success(endpoint, answer(await post(stack, f"/{endpoint}", data=data)))


async def test_send_list_order_and_duplicates(stack: Stack) -> None:
    mobiles = [UNICOM, MOBILE, "+86" + UNICOM, "0086" + MOBILE, "86" + MOBILE]
    data = {**credentials(stack), "mobile": ",".join(mobiles), "content": "通知"}
    items = assert_send_ok(answer(await post(stack, "/smssend", data=data)))
    assert [i["mobile"] for i in items] == [UNICOM, MOBILE]
    assert len({i["mid"] for i in items}) == 2


async def test_no_channel_for_the_only_carrier_is_100(stack: Stack) -> None:
    """The page's example of 100: a Telecom number, and no Telecom exit for the account."""
    platform = stack.running.platform
    extra = await add_account(stack, "mobileonly")
    await admin.add_route(platform, "mobileonly", "ctcc", [])
    data = {**extra, "mobile": "18900000000", "content": "通知"}
    body = answer(await post(stack, "/smssend", data=data))
    assert_failure("smssend", body, 100)
    # With one routable number too, the request succeeds and the other number gets 100.
    data["mobile"] = f"18900000000,{MOBILE}"
    items = assert_send_ok(answer(await post(stack, "/smssend", data=data)))
    assert [(i["mobile"], i["result"]) for i in items] == [("18900000000", 100), (MOBILE, 0)]


async def test_get_and_other_methods_never_500(stack: Stack) -> None:
    import httpx

    query = urlencode(credentials(stack))
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        for endpoint in ENDPOINTS:
            for method in ("GET", "PUT", "DELETE"):
                response = await client.request(method, f"/{endpoint}?{query}")
                assert response.status_code < 500


async def test_a_ported_number_is_routed_as_its_override_says(stack: Stack) -> None:
    """A China Mobile number the operator routes as Telecom gets 100 from an account with
    no Telecom exit, and is accepted again once the override is gone."""
    platform = stack.running.platform
    extra = await add_account(stack, "noported")
    await admin.add_route(platform, "noported", "ctcc", [])
    data = {**extra, "mobile": f"{MOBILE},{UNICOM}", "content": "通知"}
    await admin.set_number_override(platform, MOBILE, "ctcc")
    items = assert_send_ok(answer(await post(stack, "/smssend", data=data)))
    assert [(i["mobile"], i["result"]) for i in items] == [(MOBILE, 100), (UNICOM, 0)]
    await admin.set_number_override(platform, MOBILE, None)
    items = assert_send_ok(answer(await post(stack, "/smssend", data=data)))
    assert [(i["mobile"], i["result"]) for i in items] == [(MOBILE, 0), (UNICOM, 0)]
