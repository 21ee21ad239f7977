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
