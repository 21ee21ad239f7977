"""A first end-to-end check: send to all three networks, reports come back."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Stack


async def test_send_to_three_networks_reports_come_back(stack: Stack) -> None:
    async with stack.client() as client:
        sent = await client.send(["13800138000", "18600000000", "18900000000"], "您的验证码是1234")
        assert sent.status == 0
        mids = {item.mid for item in sent.items}
        reports: dict[str, str] = {}

        async def all_reported() -> bool:
            for report in await client.reports():
                reports[report.mid] = report.stat
            return set(reports) == mids

        await stack.wait_for(all_reported)
    assert set(reports.values()) == {"DELIVRD"}


async def test_metrics_count_accepted_messages_and_show_channels(stack: Stack) -> None:
    import httpx

    async with stack.client() as client:
        assert (await client.send("13800138000", "您的验证码是4321")).status == 0
    async with httpx.AsyncClient() as http:
        text = (await http.get(stack.facts.url + "/metrics")).text
    assert "duanxin_messages_accepted_total" in text
    assert 'duanxin_channel_up{channel="demo-cmpp"} 1.0' in text


async def test_an_unsupported_version_parameter_is_status_4_in_each_endpoints_shape(
    stack: Stack,
) -> None:
    from datetime import UTC, datetime

    import httpx

    from duanxin.api.signature import sign_headers

    base = {"account": stack.facts.account, "password": stack.facts.password, "version": "9"}
    async with httpx.AsyncClient(base_url=stack.facts.url) as http:
        for path, status in (("/smssend", "4"), ("/smsoverage", 4), ("/smsreport", "4")):
            headers = sign_headers(
                stack.facts.secret_id, stack.facts.secret_key, now=datetime.now(UTC)
            )
            answer = (await http.post(path, data=base, headers=headers)).json()
            assert answer["status"] == status and "version" in answer["msg"]


async def test_with_the_gateway_layer_off_unsigned_requests_are_served(tmp_path: Path) -> None:
    import httpx

    from duanxin.config import Settings
    from duanxin.demo import demo_stack
    from duanxin.runtime import free_port

    port = free_port()
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'off.db'}",
        port=port,
        gateway_auth=False,
    )
    async with (
        demo_stack("127.0.0.1", port, tmp_path, settings=settings) as (facts, _, _sims),
        httpx.AsyncClient(base_url=facts.url) as http,
    ):
        answer = await http.post(
            "/smsoverage", data={"account": facts.account, "password": facts.password}
        )
    assert answer.status_code == 200 and answer.json()["status"] == 0
