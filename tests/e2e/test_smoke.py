"""A first end-to-end check: send to all three networks, reports come back."""

from __future__ import annotations

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
