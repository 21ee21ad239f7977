"""Operator REST validation: every refusal has the one error shape, the right status and
no side effect (nothing created, changed or audited)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from duanxin.service import admin
from tests.conftest import Stack

CHANNEL = {
    "name": "extra",
    "protocol": "cmpp",
    "host": "127.0.0.1",
    "port": 7890,
    "account": "901234",
    "password": "pw",
    "access_code": "1069",
}


async def _operator(stack: Stack) -> httpx.AsyncClient:
    token = await admin.create_operator_token(stack.running.platform, "alice")
    return httpx.AsyncClient(base_url=stack.facts.url, headers={"Authorization": f"Bearer {token}"})


def _refused(response: httpx.Response, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and body["msg"], body
    assert set(body) <= {"status", "msg", "field"}
    if field is not None:
        assert body.get("field") == field, body
    return body


async def _audit_size(operator: httpx.AsyncClient) -> int:
    return len((await operator.get("/admin/audit", params={"limit": 10000})).json())


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer": "c", "password": "pw"}, "account"),  # missing
        ({"customer": "c", "account": 5, "password": "pw"}, "account"),  # wrong type
        ({"customer": "c", "account": "a", "password": "pw", "spid": "9x"}, "spid"),
        ({"customer": "c", "account": "a", "password": "pw", "charge_type": "free"}, "charge_type"),
        ({"customer": "c", "account": "a", "password": "pw", "colour": "red"}, "colour"),
    ],
)
async def test_account_bodies_are_checked_field_by_field(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    async with await _operator(stack) as operator:
        before = await _audit_size(operator)
        _refused(await operator.post("/admin/accounts", json=body), 422, field)
        assert await _audit_size(operator) == before
        assert [a["account"] for a in (await operator.get("/admin/accounts")).json()] == ["demo"]


async def test_a_duplicate_account_is_409_and_leaves_no_customer_or_key(stack: Stack) -> None:
    async with await _operator(stack) as operator:
        keys_before = (await operator.get("/admin/keys")).json()
        body = {"customer": "New Co", "account": "demo", "password": "pw"}
        _refused(await operator.post("/admin/accounts", json=body), 409)
        assert (await operator.get("/admin/keys")).json() == keys_before
        _refused(await operator.get("/admin/keys", params={"customer": "New Co"}), 404)


async def test_unknown_names_and_actions_are_404_and_change_nothing(stack: Stack) -> None:
    async with await _operator(stack) as operator:
        _refused(await operator.get("/admin/accounts/nobody"), 404)
        _refused(await operator.patch("/admin/accounts/nobody", json={"state": "frozen"}), 404)
        _refused(await operator.post("/admin/accounts/nobody/recharge", json={"amount": 5}), 404)
        _refused(await operator.post("/admin/channels/nothing/disable"), 404)
        _refused(await operator.put("/admin/routes/demo/cmcc", json={"channels": ["nope"]}), 404)
        # A typo in the action is not another action: the channel stays enabled.
        _refused(await operator.post("/admin/channels/demo-cmpp/disabel"), 404)
        _refused(await operator.post("/admin/frobnicate"), 404)
        _refused(await operator.put("/admin/accounts"), 405)
        listed = {c["name"]: c for c in (await operator.get("/admin/channels")).json()}
        assert listed["demo-cmpp"]["enabled"] is True


async def test_malformed_bodies_and_bad_values(stack: Stack) -> None:
    async with await _operator(stack) as operator:
        _refused(await operator.post("/admin/accounts/demo/recharge", content=b"\xff{"), 400)
        _refused(await operator.post("/admin/accounts/demo/recharge", json=[1]), 400)
        recharge = {"amount": "5"}  # a string is not a number: no coercion
        _refused(await operator.post("/admin/accounts/demo/recharge", json=recharge), 422, "amount")
        _refused(await operator.patch("/admin/accounts/demo", json={}), 422)
        _refused(await operator.patch("/admin/accounts/demo", json={"state": "gone"}), 422, "state")
        bad_whitelist = {"ip_whitelist": "10.0.0.300"}
        _refused(await operator.patch("/admin/accounts/demo", json=bad_whitelist), 422)
        _refused(await operator.get("/admin/audit", params={"limit": "0"}), 422, "limit")
        _refused(await operator.put("/admin/routes/demo/mars", json={"channels": []}), 422)
        shown = (await operator.get("/admin/accounts/demo")).json()
        assert shown["state"] == "active" and shown["ip_whitelist"] == ""


async def test_channels_are_validated_edited_and_removed(stack: Stack) -> None:
    async with await _operator(stack) as operator:
        _refused(await operator.post("/admin/channels", json={**CHANNEL, "protocol": "xmpp"}),
                 422, "protocol")  # fmt: skip
        _refused(await operator.post("/admin/channels", json={**CHANNEL, "port": 70000}),
                 422, "port")  # fmt: skip
        _refused(await operator.post("/admin/channels", json={**CHANNEL, "version": 7}), 422)
        _refused(await operator.post("/admin/channels", json={**CHANNEL, "name": "demo-cmpp"}),
                 409)  # fmt: skip
        assert (await operator.post("/admin/channels", json=CHANNEL)).status_code == 200
        edited = await operator.patch("/admin/channels/extra", json={"port": 7891, "tps": 50})
        assert edited.status_code == 200, edited.text
        assert edited.json()["port"] == 7891 and "password" not in edited.json()
        _refused(await operator.patch("/admin/channels/extra", json={"protocol": "smpp"}), 422)
        _refused(await operator.patch("/admin/channels/ghost", json={"port": 1}), 404)
        assert (await operator.get("/admin/channels/extra")).json()["tps"] == 50
        await operator.put("/admin/routes/demo/cucc", json={"channels": ["extra"]})
        removed = await operator.delete("/admin/channels/extra")
        assert removed.status_code == 200 and removed.json()["removed"] is True
        _refused(await operator.get("/admin/channels/extra"), 404)
        # The demo channel has carried no message yet, but once it has, it must stay.
        _refused(await operator.delete("/admin/channels/ghost"), 404)


async def test_a_channel_that_carried_messages_can_only_be_disabled(stack: Stack) -> None:
    async with stack.client() as client:
        sent = await client.send("13800138000", "您的验证码是1234")
        assert sent.status == 0
    platform = stack.running.platform

    async def carried() -> bool:
        from sqlalchemy import func, select

        from duanxin.store.tables import messages

        async with platform.engine.connect() as conn:
            query = select(func.count()).where(messages.c.channel_id.is_not(None))
            return bool((await conn.execute(query)).scalar())

    await stack.wait_for(carried)
    async with await _operator(stack) as operator:
        _refused(await operator.delete("/admin/channels/demo-cmpp"), 409)
        assert (await operator.post("/admin/channels/demo-cmpp/disable")).json()["enabled"] is False
