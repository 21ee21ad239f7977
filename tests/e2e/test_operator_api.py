"""Operator REST: token authentication, account and channel management, the audit log."""

from __future__ import annotations

import httpx

from duanxin.service import admin
from tests.conftest import Stack


async def _operator(stack: Stack) -> httpx.AsyncClient:
    token = await admin.create_operator_token(stack.running.platform, "alice")
    return httpx.AsyncClient(base_url=stack.facts.url, headers={"Authorization": f"Bearer {token}"})


async def test_requests_without_a_valid_token_are_refused(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.facts.url) as anonymous:
        assert (await anonymous.get("/admin/accounts")).status_code == 401
        bad = await anonymous.get("/admin/accounts", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401 and bad.json() == {
            "status": 401,
            "msg": "unknown operator token",
        }


async def test_create_configure_recharge_and_route_an_account(stack: Stack) -> None:
    async with await _operator(stack) as operator:
        created = await operator.post(
            "/admin/accounts",
            json={"customer": "ACME", "account": "acme", "password": "pw", "spid": "900"},
        )
        assert created.status_code == 200
        assert created.json()["secret_id"].startswith("AKID")
        changed = await operator.patch(
            "/admin/accounts/acme", json={"state": "frozen", "max_concurrency": 2}
        )
        assert changed.json()["state"] == "frozen" and "password" not in changed.json()
        recharged = await operator.post("/admin/accounts/acme/recharge", json={"amount": 50})
        assert recharged.json()["balance"] == 50
        route = await operator.put("/admin/routes/acme/cmcc", json={"channels": ["demo-cmpp"]})
        assert route.status_code == 200
        names = [c["name"] for c in (await operator.get("/admin/channels")).json()]
        assert "demo-cmpp" in names
        assert all("password" not in c for c in (await operator.get("/admin/channels")).json())
        audit = (await operator.get("/admin/audit")).json()
        actions = {(row["actor"], row["action"]) for row in audit}
        assert ("alice", "account.recharge") in actions and ("alice", "route.set") in actions


async def test_bad_requests_get_clear_errors(stack: Stack) -> None:
    async with await _operator(stack) as operator:
        missing = await operator.post("/admin/accounts", json={"customer": "x"})
        assert missing.status_code == 422 and missing.json()["field"] == "account"
        assert (await operator.get("/admin/accounts/nobody")).status_code == 404
        unknown = await operator.patch("/admin/accounts/demo", json={"balance": 10**9})
        assert unknown.status_code == 422 and unknown.json()["field"] == "balance"
        garbage = await operator.post("/admin/accounts/demo/recharge", content=b"\xff{")
        assert garbage.status_code == 400


async def test_a_channel_with_several_connections_logs_in_each_and_delivers(
    stack: Stack,
) -> None:
    from duanxin.simulator.cmpp import CmppSimulator

    platform = stack.running.platform
    gateway = stack.facts.simulators["cmpp"]
    await admin.add_channel(
        platform,
        admin.ChannelSpec(
            name="cmcc-wide",
            protocol="cmpp",
            host=gateway["host"],
            port=gateway["port"],
            account=gateway["account"],
            password=gateway["password"],
            access_code="1069777",
            max_connections=3,
        ),
    )
    await admin.add_route(platform, stack.facts.account, "cmcc", ["cmcc-wide"])
    assert stack.running.worker is not None
    await stack.running.worker.reload()
    simulator = stack.simulators["cmpp"]
    assert isinstance(simulator, CmppSimulator)

    async def all_logged_in() -> bool:
        return len(simulator.sessions) == 1 + 3  # the demo channel's and the new three

    await stack.wait_for(all_logged_in)
    async with stack.client() as client:
        numbers = [f"1390000{i:04d}" for i in range(12)]
        sent = await client.send(numbers, "您的验证码是5678")
        assert [item.result for item in sent.items] == [0] * 12
        reported: set[str] = set()

        async def delivered() -> bool:
            reported.update(r.mid for r in await client.reports() if r.stat == "DELIVRD")
            return reported == {item.mid for item in sent.items}

        await stack.wait_for(delivered)
    sources = {m.source for m in simulator.behaviour.received if m.destination in numbers}
    assert sources == {"1069777"}  # every message went over the new channel


async def test_channel_alphabet_is_checked(stack: Stack) -> None:
    channel = {
        "protocol": "smpp",
        "host": "127.0.0.1",
        "port": 2775,
        "account": "esme",
        "password": "pw",
        "access_code": "10690001",
    }
    async with await _operator(stack) as operator:
        added = await operator.post(
            "/admin/channels", json={**channel, "name": "intl", "settings": {"alphabet": "gsm7"}}
        )
        assert added.status_code == 200, added.text
        unknown = await operator.post(
            "/admin/channels", json={**channel, "name": "bad", "settings": {"alphabet": "utf7"}}
        )
        assert unknown.status_code == 422
        assert unknown.json()["field"] == "settings.alphabet"
        assert "'ascii', 'gsm7' or 'latin1'" in unknown.json()["msg"]
        cmpp = {**channel, "protocol": "cmpp", "name": "cm", "settings": {"alphabet": "latin1"}}
        refused = await operator.post("/admin/channels", json=cmpp)
        assert refused.status_code == 422 and "for SMPP channels" in refused.json()["msg"]
        listed = {c["name"]: c for c in (await operator.get("/admin/channels")).json()}
    assert listed["intl"]["settings"] == {"alphabet": "gsm7"}
    assert "bad" not in listed and "cm" not in listed


async def test_a_route_set_by_the_operator_serves_the_very_next_send(stack: Stack) -> None:
    from duanxin.client import AsyncClient, Report
    from tests.conftest import wait_until
    from tests.e2e.helpers import approve_signature

    async with await _operator(stack) as operator:
        created = await operator.post(
            "/admin/accounts",
            json={"customer": "Quick", "account": "quick", "password": "pw", "spid": "901"},
        )
        keys = created.json()
        await operator.post("/admin/accounts/quick/recharge", json={"amount": 10})
        # Routed after the delivery worker loaded its routes, and no sweep in between.
        await approve_signature(stack, "【快讯】", "quick")
        await operator.put("/admin/routes/quick/cmcc", json={"channels": ["demo-cmpp"]})
    client = AsyncClient(
        stack.facts.url,
        secret_id=keys["secret_id"],
        secret_key=keys["secret_key"],
        account="quick",
        password="pw",
    )
    async with client:
        sent = await client.send(["13800138111"], "【快讯】您的验证码是2468")
        assert sent.status == 0
        reports: list[Report] = []

        async def reported() -> bool:
            reports.extend(await client.reports())
            return bool(reports)

        await wait_until(reported)
    assert reports[0].stat == "DELIVRD"
