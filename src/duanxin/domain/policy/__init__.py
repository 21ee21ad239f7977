"""Content and abuse policy, pure and I/O-free (SPEC 2.2, 2.3, 3 "Policy"; issue 4).

Modules, one concept each:

- :mod:`.text`: :func:`normalize`, the matching form of text (width, case, separators).
- :mod:`.words`: :class:`SensitiveWords`, the operator's word list (Aho-Corasick).
- :mod:`.signatures`: ``【...】`` signatures: validation, placement, the default.
- :mod:`.templates`: :class:`TemplateKind`, :func:`compile_template`,
  :func:`validate_template`, :class:`TemplateSet` (fast matching).
- :mod:`.optout`: :func:`has_opt_out_hint` (marketing must end with one).
- :mod:`.frequency`: :class:`FrequencyRules` and :func:`frequency_checks`, the
  ``(key, limits)`` pairs for :class:`duanxin.bus.limits.RateLimiter`.
- :mod:`.window`: :class:`SendWindow`, :func:`hold_until` (marketing sending hours).
- :mod:`.classifier`: :func:`classify`, the kind of a free-text content (verification,
  marketing, notification) when no template and no account default gives one.
- :mod:`.engine`: :class:`ContentPolicy`, an account's snapshot, and its ``check``
  (which gives every accepted content a kind, see :class:`KindSource`).
- :mod:`.bench`: :func:`benchmark_policy`, the micro-benchmark.

Errors: :class:`PolicyError` (a definition is invalid) and :class:`PolicyRefusal` (a
content is refused, with its SPEC status); see :mod:`.errors`.
"""

from duanxin.domain.policy.classifier import classify
from duanxin.domain.policy.engine import (
    MAX_CONTENT_CHARS,
    TEMPLATE_MISMATCH,
    ContentDecision,
    ContentPolicy,
    KindSource,
)
from duanxin.domain.policy.errors import PolicyError, PolicyRefusal
from duanxin.domain.policy.frequency import (
    DEFAULT_FREQUENCY,
    FrequencyRules,
    Limits,
    format_limits,
    frequency_checks,
    parse_limits,
)
from duanxin.domain.policy.optout import has_opt_out_hint
from duanxin.domain.policy.signatures import (
    apply_signature,
    signature_of,
    strip_signatures,
    validate_signature,
)
from duanxin.domain.policy.templates import (
    Template,
    TemplateKind,
    TemplateSet,
    VariableBounds,
    compile_template,
    validate_template,
)
from duanxin.domain.policy.text import normalize
from duanxin.domain.policy.window import DEFAULT_WINDOW, SendWindow, hold_until, parse_window
from duanxin.domain.policy.words import (
    SensitiveWords,
    WordEntry,
    WordHit,
    parse_word_file,
    validate_word,
)

__all__ = [
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
]
