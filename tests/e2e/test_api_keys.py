"""API keys: several per customer, issued once, listed without secrets, revoked at once;
operator tokens listed and revoked; secrets absent in clear from the database and logs."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from duanxin.client import AuthenticationError
from duanxin.service import admin, keys
from tests.conftest import Stack


async def _operator(stack: Stack, name: str = "alice") -> tuple[httpx.AsyncClient, str]:
    token = await admin.create_operator_token(stack.running.platform, name)
    client = httpx.AsyncClient(
        base_url=stack.facts.url, headers={"Authorization": f"Bearer {token}"}
    )
    return client, token


async def test_a_second_key_signs_and_a_revoked_key_gets_401_at_once(stack: Stack) -> None:
    operator, _ = await _operator(stack)
    async with operator:
        issued = await operator.post("/admin/keys", json={"customer": "demo"})
        assert issued.status_code == 200, issued.text
        second = issued.json()
        assert second["secret_key"] and second["customer"] == "demo"
        listed = (await operator.get("/admin/keys", params={"customer": "demo"})).json()
        assert {k["secret_id"] for k in listed} == {stack.facts.secret_id, second["secret_id"]}
        assert all("secret_key" not in k and k["state"] == "active" for k in listed)
        async with stack.client(
            secret_id=second["secret_id"], secret_key=second["secret_key"]
        ) as c:
            assert (await c.balance()).status == 0  # the key is cached from now on
            revoked = await operator.post(f"/admin/keys/{second['secret_id']}/revoke")
            assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
            with pytest.raises(AuthenticationError):
                await c.balance()
        again = await operator.post(f"/admin/keys/{second['secret_id']}/revoke")
        assert again.status_code == 409
        assert (await operator.post("/admin/keys/AKIDnothing/revoke")).status_code == 404
    async with stack.client() as first:
        assert (await first.balance()).status == 0  # the customer's other key still works


async def test_an_expired_key_is_refused(stack: Stack) -> None:
    platform = stack.running.platform
    issued = await keys.issue_key(
        platform, "demo", "test", expires_at=platform.clock() + timedelta(seconds=30)
    )
    async with stack.client(secret_id=issued.secret_id, secret_key=issued.secret_key) as c:
        assert (await c.balance()).status == 0
        later = platform.clock() + timedelta(minutes=1)
        platform.clock = lambda: later
        with pytest.raises(AuthenticationError):
            await c.balance()
    listed = {k.secret_id: k for k in await keys.list_keys(platform, "demo")}
    assert listed[issued.secret_id].state is keys.KeyState.EXPIRED
    with pytest.raises(ValueError, match="future"):
        await keys.issue_key(platform, "demo", "test", expires_at=platform.clock())


async def test_operator_tokens_are_listed_by_id_and_revoked(stack: Stack) -> None:
    alice, _ = await _operator(stack, "alice")
    bob, bob_token = await _operator(stack, "bob")
    async with alice, bob:
        tokens = (await alice.get("/admin/tokens")).json()
        assert all(bob_token not in str(t) for t in tokens)
        bobs = next(t for t in tokens if t["name"] == "bob")
        assert (await bob.get("/admin/accounts")).status_code == 200
        revoked = await alice.post(f"/admin/tokens/{bobs['id']}/revoke")
        assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
        assert (await bob.get("/admin/accounts")).status_code == 401
        created = await alice.post("/admin/tokens", json={"name": "carol"})
        carol = created.json()["token"]
        assert carol.startswith("dxop_")
        listed = (
            await alice.get("/admin/accounts", headers={"Authorization": f"Bearer {carol}"})
        ).json()
        assert listed[0]["account"] == "demo"


async def test_secrets_are_not_in_the_database_file_nor_in_the_logs(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    operator, token = await _operator(stack)
    async with operator:
        body = {"customer": "Sec", "account": "secacct", "password": "Pa55-word-xyzzy"}
        created = (await operator.post("/admin/accounts", json=body)).json()
        channel = {
            "name": "sec-chan",
            "protocol": "smgp",
            "host": "127.0.0.1",
            "port": 9890,
            "account": "smgpsp",
            "password": "carrier-secret-42",
            "access_code": "1065",
        }
        assert (await operator.post("/admin/channels", json=channel)).status_code == 200
    async with stack.client() as client:
        await client.send("13800138000", "您的验证码是1234")
    await stack.running.platform.engine.dispose()  # fold the WAL into the file
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("duanxin.db*") if p.is_file())
    secrets = [
        created["secret_key"],
        "Pa55-word-xyzzy",
        "carrier-secret-42",
        stack.facts.secret_key,
        stack.facts.password,
        token,
    ]
    for secret in secrets:
        assert secret.encode() not in stored, secret
        assert secret not in caplog.text, secret
    # ... and they still work: the account logs in with its password.
    found = await admin.find_account(stack.running.platform, "secacct")
    assert found.password == "Pa55-word-xyzzy"
