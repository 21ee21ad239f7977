"""The policy package's public surface, pinned (the service layer builds on it)."""

from __future__ import annotations

import duanxin.domain.policy as policy


def test_exported_members() -> None:
    assert set(policy.__all__) == {
        "DEFAULT_FREQUENCY",
        "DEFAULT_WINDOW",
        "MAX_CONTENT_CHARS",
        "TEMPLATE_MISMATCH",
        "ContentDecision",
        "ContentPolicy",
        "FrequencyRules",
        "KindSource",
        "Limits",
        "PolicyError",
        "PolicyRefusal",
        "SendWindow",
        "SensitiveWords",
        "Template",
        "TemplateKind",
        "TemplateSet",
        "VariableBounds",
        "WordEntry",
        "WordHit",
        "apply_signature",
        "classify",
        "compile_template",
        "format_limits",
        "frequency_checks",
        "has_opt_out_hint",
        "hold_until",
        "normalize",
        "parse_limits",
        "parse_window",
        "parse_word_file",
        "signature_of",
        "strip_signatures",
        "validate_signature",
        "validate_template",
        "validate_word",
    }
    assert len(policy.__all__) == len(set(policy.__all__))
    for name in policy.__all__:
        member = getattr(policy, name)
        if callable(member) and name != "Limits":  # Limits is a tuple type alias
            assert member.__module__.startswith("duanxin.domain.policy."), name
