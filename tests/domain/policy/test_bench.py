"""The micro-benchmark runs (small sizes here; the figure itself is for BENCHMARKS.md)."""

from __future__ import annotations

from duanxin.domain.policy.bench import benchmark_policy, build_scenario
from duanxin.domain.policy.errors import PolicyRefusal


def test_benchmark_runs_and_reports_microseconds() -> None:
    micros = benchmark_policy(templates=50, words=200, messages=300)
    assert 0 < micros < 10_000


def test_scenario_mostly_passes() -> None:
    policy, contents = build_scenario(templates=50, words=200, messages=300)
    assert len(policy.templates) == 50 and len(policy.words) == 200
    accepted = 0
    for content in contents:
        try:
            decision = policy.check(content)
        except PolicyRefusal:
            continue
        accepted += 1
        assert decision.template_id is not None
    assert accepted > 250
