"""The SDK's verify_webhook against signatures made by the standardwebhooks package, and
the SDK's callback setter against the running platform."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks import Webhook

from duanxin.client import WebhookVerificationError, verify_webhook
from duanxin.domain.webhooks import new_secret
from tests.conftest import Stack
from tests.delivery.receivers import receiver

BODY = json.dumps([{"flag": 1, "mid": "4C36654382720005", "stat": "DELIVRD"}]).encode()


def _signed(secret: str, when: float | None = None) -> dict[str, str]:
    stamp = int(when if when is not None else time.time())
    signature = Webhook(secret).sign("msg_1", datetime.fromtimestamp(stamp, UTC), BODY.decode())
    return {"Webhook-Id": "msg_1", "Webhook-Timestamp": str(stamp), "Webhook-Signature": signature}


def test_verifies_a_standard_webhooks_signature() -> None:
    secret = new_secret()
    assert verify_webhook(_signed(secret), BODY, secret) == json.loads(BODY)


def test_accepts_any_of_several_signatures() -> None:
    old, new = new_secret(), new_secret()
    headers = _signed(new)
    headers["Webhook-Signature"] = (
        _signed(old)["Webhook-Signature"] + " " + headers["Webhook-Signature"]
    )
    assert verify_webhook(headers, BODY, new)
    assert verify_webhook(headers, BODY, old)


@pytest.mark.parametrize("tamper", ["body", "secret", "old", "missing"])
def test_refuses_what_does_not_check_out(tamper: str) -> None:
    secret = new_secret()
    headers = _signed(secret, time.time() - 3600 if tamper == "old" else None)
    body, key = BODY, secret
    if tamper == "body":
        body = BODY.replace(b"DELIVRD", b"UNDELIV")
    elif tamper == "secret":
        key = new_secret()
    elif tamper == "missing":
        del headers["Webhook-Signature"]
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, body, key)


async def test_set_callbacks_and_verify_a_push(stack: Stack) -> None:
    async with receiver() as hook, stack.client() as sms:
        result = await sms.set_callbacks(reports_url=hook.url)
        assert result.ok and result.secret and result.reports_url == hook.url
        again = await sms.set_callbacks(replies_url="")
        assert again.ok and again.secret is None
        sent = await sms.send("13800138000", "您的验证码是 1234")
        assert sent.ok

        async def pushed() -> bool:
            return bool(hook.delivered())

        await stack.wait_for(pushed)
        request = hook.delivered()[0]
        items = verify_webhook(request.headers, request.body, result.secret)
        assert [i["mid"] for i in items] == [sent.items[0].mid]
