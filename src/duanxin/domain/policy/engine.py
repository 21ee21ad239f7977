"""The content policy of one account: one immutable snapshot, one ``check`` per content.

:meth:`ContentPolicy.check` applies, in this order (the first failure refuses):

1. signature: an approved signature of the account at the start or end, or the default
   prepended (status 5, see :func:`~duanxin.domain.policy.signatures.apply_signature`);
2. sensitive words on the content as it will be sent (status 5, the msg names the
   category, never the word);
3. template: the first approved template the content matches gives its kind and id;
   with ``template_required`` a content matching none is refused (status 100, msg
   exactly ``"template mismatch"``);
4. opt-out hint: content of a marketing template must end with one (status 5).

Every accepted content gets a kind (:class:`KindSource` says where it came from): the
matched template's; else the account's declared ``default_kind``; else the free-text
classifier's (:func:`~duanxin.domain.policy.classifier.classify_body`). The opt-out rule
stays a template rule: free text the classifier calls marketing is held by the window,
not refused.

What the caller does next with the decision: frequency limits per number by ``kind``
(:mod:`~duanxin.domain.policy.frequency`), the marketing window
(:mod:`~duanxin.domain.policy.window`). Length and emptiness checks (status 1) come
before this, at the request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from duanxin.domain.policy.classifier import classify_body
from duanxin.domain.policy.errors import PolicyRefusal
from duanxin.domain.policy.optout import has_opt_out_hint
from duanxin.domain.policy.signatures import (
    signed_content,
    split_signatures,
    validate_signature,
)
from duanxin.domain.policy.templates import TemplateKind, TemplateSet
from duanxin.domain.policy.words import SensitiveWords
from duanxin.domain.status import Status

__all__ = [
    "MAX_CONTENT_CHARS",
    "TEMPLATE_MISMATCH",
    "ContentDecision",
    "ContentPolicy",
    "KindSource",
]

TEMPLATE_MISMATCH = "template mismatch"
MAX_CONTENT_CHARS = 1000  # SPEC 2.4: longer content is malformed (status 1), checked first
_NO_WORDS = SensitiveWords()
_NO_TEMPLATES = TemplateSet()


class KindSource(StrEnum):
    """Where a content's kind came from, in the order they are tried."""

    TEMPLATE = "template"  # the approved template it matches
    ACCOUNT = "account"  # the account's declared default kind
    CLASSIFIER = "classifier"  # the free-text classifier


@dataclass(frozen=True, slots=True)
class ContentDecision:
    """Content accepted by policy: the text to send, and what it was recognised as."""

    content: str  # as it will be sent (default signature prepended if it had none)
    kind: TemplateKind  # frequency limits and the marketing window go by it
    template_id: int | None  # None: matched no template
    kind_source: KindSource = KindSource.TEMPLATE


@dataclass(frozen=True, slots=True)
class ContentPolicy:
    """An immutable snapshot of one account's content rules.

    Build one per account and rebuild it when the account's signatures, default
    signature, template flag or templates change; ``words`` is the platform-wide list,
    shared by reference between every account's snapshot (swap it on change).
    ``approved_signatures`` hold canonical forms (``validate_signature``); use
    :meth:`build` to pass them in any accepted spelling. ``default_kind`` is the kind
    of content matching no template (None: the classifier decides).
    """

    approved_signatures: frozenset[str] = frozenset()
    default_signature: str | None = None
    template_required: bool = False
    templates: TemplateSet = field(default=_NO_TEMPLATES)
    words: SensitiveWords = field(default=_NO_WORDS)
    default_kind: TemplateKind | None = None

    @classmethod
    def build(
        cls,
        *,
        signatures: Iterable[str] = (),
        default_signature: str | None = None,
        template_required: bool = False,
        templates: TemplateSet | None = None,
        words: SensitiveWords | None = None,
        default_kind: TemplateKind | str | None = None,
    ) -> ContentPolicy:
        """A snapshot from stored values; signatures (and the default) are canonicalised.

        An empty ``default_signature`` (as ``Account.default_signature`` stores "none")
        means no default. Raises :class:`~duanxin.domain.policy.errors.PolicyError` for
        a stored signature that is not valid.
        """
        return cls(
            approved_signatures=frozenset(validate_signature(s) for s in signatures),
            default_signature=validate_signature(default_signature) if default_signature else None,
            template_required=template_required,
            templates=templates if templates is not None else _NO_TEMPLATES,
            words=words if words is not None else _NO_WORDS,
            default_kind=TemplateKind(default_kind) if default_kind else None,
        )

    def check(self, content: str) -> ContentDecision:
        """Accept ``content`` (returning what to send) or raise :class:`PolicyRefusal`."""
        first, body, last = split_signatures(content)
        signed = signed_content(
            content, first, last, self.approved_signatures, self.default_signature
        )
        hit = self.words.first_hit(signed)
        if hit is not None:
            raise PolicyRefusal(
                Status.OTHER, f"content contains a sensitive word (category {hit.category})"
            )
        template = self.templates.match_body(body)
        if template is None:
            if self.template_required:
                raise PolicyRefusal(Status.INTERNAL, TEMPLATE_MISMATCH)
            if self.default_kind is not None:
                return ContentDecision(signed, self.default_kind, None, KindSource.ACCOUNT)
            return ContentDecision(signed, classify_body(body), None, KindSource.CLASSIFIER)
        if template.kind is TemplateKind.MARKETING and not has_opt_out_hint(body):
            raise PolicyRefusal(
                Status.OTHER, "marketing content must end with an opt-out hint, e.g. 拒收请回复R"
            )
        return ContentDecision(signed, template.kind, template.id)
