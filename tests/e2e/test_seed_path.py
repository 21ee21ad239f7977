"""The published endpoints' own path past Starlette's router (api.app._SeedFirst): the
same answers, log lines and refusals as through the router, over a real socket."""

from __future__ import annotations

import logging

import httpx
import pytest

from duanxin.logs import ACCESS_LOGGER
from duanxin.service import accounts
from tests.conftest import Stack
from tests.e2e.helpers import MOBILE, answer, assert_send_ok, credentials, post


async def test_a_send_is_answered_and_logged_on_the_seed_path(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=ACCESS_LOGGER)
    logging.getLogger(ACCESS_LOGGER).disabled = False
    # A verification code goes to a number once a minute: a number for each path.
    for path, mobile in (("/smssend", MOBILE), ("/release/smssend", "13912345678")):
        data = {**credentials(stack), "mobile": mobile, "content": "您的验证码是1234"}
        response = await post(stack, path, data=data)
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        assert_send_ok(answer(response))
    lines = [r.getMessage() for r in caplog.records if r.name == ACCESS_LOGGER]
    assert any(line.startswith("POST /smssend 200 ") for line in lines)
    assert any(line.startswith("POST /release/smssend 200 ") for line in lines)


async def test_other_methods_and_paths_still_go_through_the_router(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.facts.url) as client:
        put = await client.put("/smssend")
        assert put.status_code == 405
        assert set(put.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
        head = await client.head("/smsoverage")
        assert head.status_code == 401  # routed to the endpoint, which checks the signature
        assert (await client.post("/smssendx")).status_code == 404


async def test_an_error_before_the_endpoint_answers_500_not_a_reset(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("the key store is away")

    # The signature check's lookup fails outside the endpoint's own error handling.
    monkeypatch.setattr("duanxin.api.gateway.api_key_secret", broken)
    assert accounts.api_key_secret is not broken
    response = await post(stack, "/smssend", data={**credentials(stack), "mobile": MOBILE})
    assert response.status_code == 500
    assert response.text == "Internal Server Error"
