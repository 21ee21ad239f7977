"""The micro-benchmark runs (small sizes here; the figure itself is for BENCHMARKS.md)."""

from __future__ import annotations

from duanxin.domain.policy.bench import benchmark_policy, build_scenario
from duanxin.domain.policy.errors import PolicyRefusal
from duanxin.domain.policy.templates import TemplateKind


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


def test_free_text_scenario_is_classified_into_every_kind() -> None:
    policy, contents = build_scenario(templates=50, words=200, messages=300, free_text=0.5)
    assert not policy.template_required
    kinds = {}
    for content in contents:
        decision = policy.check(content)  # nothing refused: no template required
        if decision.template_id is None:
            kinds[decision.kind] = kinds.get(decision.kind, 0) + 1
    assert set(kinds) == set(TemplateKind) and sum(kinds.values()) > 100
    assert 0 < benchmark_policy(templates=50, words=200, messages=300, free_text=0.5) < 10_000
