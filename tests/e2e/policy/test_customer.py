"""Customer REST: registering signatures and templates, signed like the seed endpoints."""

from __future__ import annotations

from typing import Any

import httpx

from duanxin.service import policy
from tests.conftest import Stack
from tests.e2e.helpers import MOBILE, assert_send_ok, credentials, post, send_form


async def _call(stack: Stack, path: str, **fields: str) -> dict[str, Any]:
    response = await post(stack, path, data={**credentials(stack), **fields})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    document: dict[str, Any] = response.json()
    return document


async def test_register_a_signature_and_see_it_approved(stack: Stack) -> None:
    registered = await _call(stack, "/customer/signatures", signature="客户公司")
    assert registered["status"] == 0 and registered["msg"] == "ok"
    signature = registered["signature"]
    assert (signature["signature"], signature["state"]) == ("【客户公司】", "pending")
    assert "decided_by" not in signature
    again = await _call(stack, "/customer/signatures", signature="【客户公司】")
    assert again["signature"]["id"] == signature["id"]  # registering twice is one entry
    await policy.approve_signature(stack.running.platform, signature["id"], "op")
    listing = await _call(stack, "/customer/signatures/list")
    states = {row["signature"]: row["state"] for row in listing["list"]}
    assert states == {"【duanxin】": "approved", "【客户公司】": "approved"}
    sent = await send_form(stack, {"mobile": MOBILE, "content": "【客户公司】你好"})
    assert_send_ok(sent)
    bad = await _call(stack, "/customer/signatures", signature="【一】")
    assert bad["status"] == 1 and "2 to 12" in bad["msg"]


async def test_register_templates_problems_are_refused_at_once(stack: Stack) -> None:
    refused = await _call(
        stack, "/customer/templates", kind="marketing", template="春季上新{1}，欢迎选购"
    )
    assert refused["status"] == 1 and "opt-out" in refused["msg"]
    no_code = await _call(stack, "/customer/templates", kind="verification", template="您好${name}")
    assert no_code["status"] == 1 and "code variable" in no_code["msg"]
    unknown = await _call(stack, "/customer/templates", kind="spam", template="x{1}")
    assert unknown["status"] == 1
    ok = await _call(
        stack, "/customer/templates", kind="marketing", template="春季上新{1}，拒收请回复R"
    )
    assert ok["status"] == 0 and ok["template"]["state"] == "pending"
    assert ok["template"]["kind"] == "marketing"
    await policy.reject_template(stack.running.platform, ok["template"]["id"], "太泛", "op")
    listing = await _call(stack, "/customer/templates/list")
    assert [(t["state"], t["reason"]) for t in listing["list"]] == [("rejected", "太泛")]


async def test_customer_endpoints_check_key_and_account(stack: Stack) -> None:
    wrong = await _call(stack, "/customer/signatures/list", password="nope")
    assert wrong["status"] == 3 and wrong["msg"]
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        unsigned = await client.post("/customer/signatures", data=credentials(stack))
    assert unsigned.status_code == 401 and "message" in unsigned.json()
    fetched = await post(stack, "/customer/templates", data=credentials(stack))
    assert fetched.json()["status"] == 1  # POST without kind/template
