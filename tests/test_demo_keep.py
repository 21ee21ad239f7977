"""`duanxin demo --keep`: a second start reuses the data directory and the keys."""

from __future__ import annotations

import tomllib
from pathlib import Path

from duanxin.client import AsyncClient
from duanxin.demo import DemoFacts, demo_stack


def _client(facts: DemoFacts) -> AsyncClient:
    return AsyncClient(facts.url, facts.secret_id, facts.secret_key, facts.account, facts.password)


async def test_a_kept_demo_starts_again_with_its_keys_and_data(tmp_path: Path) -> None:
    async with demo_stack("127.0.0.1", 0, tmp_path, report_delay=0.05) as (first, _, _s):
        client = _client(first)
        async with client:
            assert (await client.send("13800138000", "您的验证码是1234")).status == 0
    settings = tomllib.loads((tmp_path / "duanxin.toml").read_text("utf-8"))
    assert settings["client"]["secret_key"] == first.secret_key
    assert first.operator_token.startswith("dxop_")
    async with demo_stack("127.0.0.1", 0, tmp_path, report_delay=0.05, keep=True) as (
        second,
        _,
        _s,
    ):
        assert (second.secret_id, second.secret_key) == (first.secret_id, first.secret_key)
        assert second.operator_token == first.operator_token
        async with _client(second) as client:
            assert (await client.send("13900139000", "您的验证码是5678")).status == 0
            assert (await client.balance()).balance == -2  # both sends, on the same data
    kept = tomllib.loads((tmp_path / "duanxin.toml").read_text("utf-8"))
    assert kept["encryption_key"] == settings["encryption_key"]
    async with demo_stack("127.0.0.1", 0, tmp_path, report_delay=0.05) as (fresh, _, _s):
        assert fresh.secret_id != first.secret_id  # without --keep: a new demo
