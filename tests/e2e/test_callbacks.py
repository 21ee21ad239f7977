"""Callbacks from the operator's side and for replies: /admin endpoints, the CLI, /metrics,
and replies pushed in the /smsmo item format."""

from __future__ import annotations

import asyncio
import json

import httpx
from click.testing import Result
from standardwebhooks import Webhook
from typer.testing import CliRunner

from duanxin.cli import app
from duanxin.demo import ACCESS_CODES
from duanxin.service import admin
from tests.conftest import Stack
from tests.delivery.receivers import receiver
from tests.e2e.helpers import assert_reply_shape, pull_replies
from tests.e2e.test_replies import demo_mo


async def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return await asyncio.to_thread(CliRunner().invoke, app, list(args), env=env)


async def test_replies_are_pushed_in_the_pull_format(stack: Stack) -> None:
    async with receiver() as hook, stack.client() as sms:
        result = await sms.set_callbacks(replies_url=hook.url)
        assert result.ok and result.secret
        await demo_mo(stack, "13800138000", ACCESS_CODES["cmpp"], "收到，谢谢")

        async def pushed() -> bool:
            return bool(hook.delivered())

        await stack.wait_for(pushed)
        request = hook.delivered()[0]
        Webhook(result.secret).verify(request.body, request.headers)
        (item,) = request.items
        assert_reply_shape(item)
        assert item["content"] == "收到，谢谢" and item["mobile"] == "13800138000"
        assert (await pull_replies(stack))["list"] == []  # pushed, so not pulled


async def test_operator_sets_shows_and_tests_callbacks(stack: Stack) -> None:
    platform = stack.running.platform
    token = await admin.create_operator_token(platform, "alice")
    headers = {"Authorization": f"Bearer {token}"}
    account = stack.facts.account
    async with receiver() as hook, httpx.AsyncClient(base_url=stack.facts.url) as client:
        missing = await client.get(f"/admin/callbacks/{account}", headers=headers)
        assert missing.status_code == 404
        made = await client.put(
            f"/admin/callbacks/{account}", json={"reports_url": hook.url}, headers=headers
        )
        assert made.status_code == 200, made.text
        secret = made.json()["secret"]
        shown = await client.get(f"/admin/callbacks/{account}", headers=headers)
        assert shown.json()["reports_url"] == hook.url and "secret" not in shown.json()
        bad = await client.put(
            f"/admin/callbacks/{account}", json={"reports_url": "gopher://x"}, headers=headers
        )
        assert bad.status_code == 422 and bad.json()["status"] == 422 and bad.json()["msg"]
        typed = await client.put(
            f"/admin/callbacks/{account}", json={"reports_url": 5}, headers=headers
        )
        assert typed.status_code == 422 and typed.json()["field"] == "reports_url"
        tested = await client.post(f"/admin/callbacks/{account}/test", headers=headers)
        assert tested.status_code == 200
        outcomes = {t["kind"]: t["outcome"] for t in tested.json()}
        assert outcomes == {"reports": "delivered", "replies": "none"}
        (request,) = hook.requests
        assert request.body == b"[]"
        Webhook(secret).verify(request.body, request.headers)
        unauthorised = await client.get(f"/admin/callbacks/{account}")
        assert unauthorised.status_code == 401
        metrics = (await client.get("/metrics")).text
    for name in (
        "duanxin_pushes_total",
        "duanxin_push_retry_queue",
        "duanxin_push_oldest_waiting_seconds",
    ):
        assert name in metrics


async def test_cli_callback_set_show_test(stack: Stack) -> None:
    url = stack.running.platform.settings.database_url
    account = stack.facts.account
    async with receiver() as hook:
        refused = await cli("callback", "set", account, "--reports-url", hook.url,
                            "--database-url", url)  # fmt: skip
        assert refused.exit_code == 1 and "not an address callbacks may use" in refused.output
        allowed = {"DUANXIN_PUSH_ALLOWED_NETWORKS": '["127.0.0.0/8"]'}
        made = await cli("callback", "set", account, "--reports-url", hook.url,
                         "--database-url", url, env=allowed)  # fmt: skip
        assert made.exit_code == 0, made.output
        secret = json.loads(made.output)["secret"]
        shown = await cli("callback", "show", account, "--database-url", url)
        assert shown.exit_code == 0 and hook.url in shown.output and "whsec_" not in shown.output
        tested = await cli("callback", "test", account, "--database-url", url, env=allowed)
        assert tested.exit_code == 0, tested.output
        assert "delivered" in tested.output
        Webhook(secret).verify(hook.requests[0].body, hook.requests[0].headers)
        kept = await cli("callback", "history", account, "--json", "--database-url", url)
        assert kept.exit_code == 0, kept.output
        (tried,) = json.loads(kept.output)
        assert tried["url"] == hook.url and tried["kind"] == "reports"
        assert (tried["outcome"], tried["http_status"], tried["attempt"]) == ("delivered", 200, 0)
        rotated = await cli("callback", "set", account, "--rotate", "--database-url", url)
        assert rotated.exit_code == 0 and json.loads(rotated.output)["secret"] != secret
        nobody = await cli("callback", "show", "nobody", "--database-url", url)
        assert nobody.exit_code == 1 and "Traceback" not in nobody.output
