"""The whole platform on PostgreSQL: a send to every network is delivered and reported."""

from __future__ import annotations

from pathlib import Path

from duanxin.config import Settings
from duanxin.demo import demo_stack
from duanxin.runtime import free_port
from tests.conftest import Stack


async def test_send_and_reports_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(database_url=postgres_url, host="127.0.0.1", port=port)
    async with demo_stack("127.0.0.1", port, tmp_path, report_delay=0.05, settings=settings) as (
        facts,
        running,
        simulators,
    ):
        stack = Stack(facts, running, simulators)
        async with stack.client() as client:
            sent = await client.send(["13800138000", "18600000000", "18900000000"], "验证码 8848")
            assert sent.status == 0
            assert [item.result for item in sent.items] == [0, 0, 0]
            stats: dict[str, str] = {}

            async def reported() -> bool:
                stats.update({r.mid: r.stat for r in await client.reports()})
                return len(stats) == 3

            await stack.wait_for(reported)
            assert set(stats.values()) == {"DELIVRD"}
            assert (await client.balance()).balance == -3
