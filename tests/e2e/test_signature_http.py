"""The gateway signature (SPEC 2.1) through the real HTTP server, and the published samples.

A refusal is HTTP 401 with ``{"message": "<reason>"}`` on every endpoint; a good signature
with SHA-1 or SHA-256, over ``x-date x-source`` or ``date source``, gets the API's answer.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from duanxin.service import admin
from tests.conftest import Stack
from tests.e2e.helpers import (
    ENDPOINTS,
    MOBILE,
    add_account,
    answer,
    assert_list_failure,
    credentials,
    http_date,
    post,
    signed_headers,
    stack_headers,
)

SAMPLES = Path(__file__).parent / "samples"
PUBLISHED_HOST = "http://service-k6817kix-1259721353.ap-shanghai.apigateway.myqcloud.com"


def _assert_refused(response: httpx.Response) -> str:
    assert response.status_code == 401, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"message"}
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


async def _balance_with(stack: Stack, headers: dict[str, str]) -> httpx.Response:
    data = {**credentials(stack), "action": "balance"}
    return await post(stack, "/smsoverage", data=data, headers=headers, sign=False)


@pytest.mark.parametrize("algorithm", ["hmac-sha1", "hmac-sha256"])
async def test_valid_signatures_pass(stack: Stack, algorithm: str) -> None:
    response = await _balance_with(stack, stack_headers(stack, algorithm=algorithm))
    assert answer(response)["status"] == 0


async def test_date_source_headers_as_in_the_curl_sample(stack: Stack) -> None:
    """``headers="date source"`` signing ``Date`` and ``Source``, with the curl sample's
    spaces around ``=`` and an unquoted signature."""
    date = http_date()
    signed = f"date: {date}\nsource: source"
    mac = hmac.new(stack.facts.secret_key.encode(), signed.encode(), hashlib.sha1).digest()
    signature = base64.b64encode(mac).decode()
    headers = {
        "Source": "source",
        "Date": date,
        "Authorization": f'hmac id = "{stack.facts.secret_id}", algorithm = "hmac-sha1", '
        f'headers = "date source", signature = {signature}',
        "X-Requested-With": "XMLHttpRequest",
    }
    template = '{"account":"ACCOUNT","action":"balance","password":"PASSWORD","rt":"json",}'
    body = (
        template.replace("ACCOUNT", stack.facts.account)
        .replace("PASSWORD", stack.facts.password)
        .encode()
    )
    response = await post(
        stack,
        "/release/smsoverage",
        content=body,
        headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        sign=False,
    )
    assert answer(response)["status"] == 0


async def test_tampered_signature_is_refused(stack: Stack) -> None:
    headers = stack_headers(stack)
    auth = headers["Authorization"]
    start = auth.index('signature="') + len('signature="')
    flipped = "A" if auth[start] != "A" else "B"
    headers["Authorization"] = auth[:start] + flipped + auth[start + 1 :]
    _assert_refused(await _balance_with(stack, headers))


async def test_signed_header_changed_after_signing_is_refused(stack: Stack) -> None:
    headers = stack_headers(stack)
    headers["X-Source"] = "someone-else"
    _assert_refused(await _balance_with(stack, headers))


async def test_wrong_key_is_refused(stack: Stack) -> None:
    headers = signed_headers(stack.facts.secret_id, stack.facts.secret_key + "x")
    _assert_refused(await _balance_with(stack, headers))


@pytest.mark.parametrize("minutes", [16, -16, 60 * 24])
async def test_stale_date_is_refused(stack: Stack, minutes: int) -> None:
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    _assert_refused(await _balance_with(stack, stack_headers(stack, when=when)))


@pytest.mark.parametrize("minutes", [14, -14])
async def test_date_inside_the_window_passes(stack: Stack, minutes: int) -> None:
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    assert answer(await _balance_with(stack, stack_headers(stack, when=when)))["status"] == 0


async def test_unknown_secret_id_is_refused(stack: Stack) -> None:
    headers = signed_headers("AKIDunknown", stack.facts.secret_key)
    _assert_refused(await _balance_with(stack, headers))


@pytest.mark.parametrize("minutes", [0, 60])
async def test_unknown_secret_id_gets_the_wrong_key_answer(stack: Stack, minutes: int) -> None:
    """No oracle for which SecretIds exist: the same status and body either way."""
    when = datetime.now(UTC) + timedelta(minutes=minutes)
    unknown = await _balance_with(stack, signed_headers("AKIDunknown", "guess", when=when))
    wrong_key = await _balance_with(
        stack, signed_headers(stack.facts.secret_id, "guess", when=when)
    )
    assert _assert_refused(unknown) == _assert_refused(wrong_key)
    assert unknown.content == wrong_key.content


async def test_unsupported_algorithm_is_refused(stack: Stack) -> None:
    headers = stack_headers(stack)
    headers["Authorization"] = headers["Authorization"].replace("hmac-sha1", "hmac-md5")
    _assert_refused(await _balance_with(stack, headers))


async def test_missing_headers_are_refused_on_every_endpoint(stack: Stack) -> None:
    for endpoint in ENDPOINTS:
        for prefix in ("", "/release"):
            data = {**credentials(stack), "mobile": MOBILE, "content": "x"}
            _assert_refused(await post(stack, f"{prefix}/{endpoint}", data=data, sign=False))
    for missing in ("Authorization", "X-Date", "X-Source"):
        headers = stack_headers(stack)
        del headers[missing]
        _assert_refused(await _balance_with(stack, headers))


async def test_malformed_authorization_is_refused(stack: Stack) -> None:
    for value in ("hmac", "Basic dXNlcjpwYXNz", 'hmac id="x"', "x" * 10000, "hmac id=,,,"):
        headers = {**stack_headers(stack), "Authorization": value}
        _assert_refused(await _balance_with(stack, headers))
    headers = {**stack_headers(stack), "X-Date": "yesterday"}
    _assert_refused(await _balance_with(stack, headers))


async def test_refusal_sends_and_charges_nothing(stack: Stack) -> None:
    before = await _balance_with(stack, stack_headers(stack))
    data = {**credentials(stack), "mobile": MOBILE, "content": "x"}
    headers = signed_headers(stack.facts.secret_id, "wrong")
    _assert_refused(await post(stack, "/smssend", data=data, headers=headers, sign=False))
    after = await _balance_with(stack, stack_headers(stack))
    assert answer(after)["balance"] == answer(before)["balance"]


async def test_another_customers_account_is_3(stack: Stack) -> None:
    platform = stack.running.platform
    other = await admin.create_customer(platform, "other-customer")
    theirs = await add_account(stack, "theirs", customer=other)
    for endpoint in ENDPOINTS:
        data = {**theirs, "mobile": MOBILE, "content": "x"}
        body = answer(await post(stack, f"/{endpoint}", data=data))
        if endpoint == "smsoverage":
            assert body["status"] == 3
        else:
            assert_list_failure(body, 3)
    # Their own key opens their account.
    key = await admin.issue_api_key(platform, other)
    headers = signed_headers(key.secret_id, key.secret_key)
    data = {**theirs, "action": "balance"}
    response = await post(stack, "/smsoverage", data=data, headers=headers, sign=False)
    assert answer(response)["status"] == 0


def _adapt(stack: Stack, endpoint: str, fields: dict[str, str]) -> str:
    """The published Python sample with this platform's URL, keys and parameters."""
    text = (SAMPLES / f"{endpoint}.py.txt").read_text(encoding="utf-8")
    replacements = {
        'secretId = "xxxx"': f'secretId = "{stack.facts.secret_id}"',
        'secretKey = "xxxx"': f'secretKey = "{stack.facts.secret_key}"',
        f"url = '{PUBLISHED_HOST}/release/{endpoint}'": (
            f"url = '{stack.facts.url}/release/{endpoint}'"
        ),
    }
    for name, value in {**credentials(stack), **fields}.items():
        replacements[f"    '{name}': '',"] = f"    '{name}': '{value}',"
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


async def _run_sample(source: str) -> dict[str, object]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        source,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0, stderr.decode()
    data = json.loads(stdout.decode("utf-8"))
    assert isinstance(data, dict)
    return data


async def test_published_python_samples_get_valid_answers(stack: Stack) -> None:
    sent = await _run_sample(
        _adapt(stack, "smssend", {"mobile": MOBILE, "content": "您的验证码是1234"})
    )
    assert sent["status"] == "0"
    assert isinstance(sent["list"], list) and sent["list"][0]["mobile"] == MOBILE
    overage = await _run_sample(_adapt(stack, "smsoverage", {}))
    assert overage["status"] == 0
    assert overage["balance"] == sent["balance"]
    assert overage["chargeType"] == "POSTCHARGE"
    mo = await _run_sample(_adapt(stack, "smsmo", {}))
    assert mo["status"] == "0" and mo["list"] == []
    mid = sent["list"][0]["mid"]
    pulled: list[object] = []

    async def reported() -> bool:
        report = await _run_sample(_adapt(stack, "smsreport", {}))
        assert report["status"] == "0"
        assert isinstance(report["list"], list)
        pulled.extend(report["list"])
        return bool(pulled)

    await stack.wait_for(reported, timeout=20)
    assert [r["mid"] for r in pulled] == [mid]  # type: ignore[index]
