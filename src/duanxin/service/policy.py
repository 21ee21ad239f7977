"""The policy service (SPEC 2.3, 3 "Policy"; issue 4): what sends are checked against.

Sending (:mod:`duanxin.service.send` calls these): :func:`check_content` (the account's
:class:`~duanxin.domain.policy.ContentPolicy`), :func:`refused_numbers` (global blacklist
and the account's opt-outs, one query each per batch), :func:`frequency_hits` (the
rate limiter on the platform, one call for a request's numbers), :func:`marketing_hold`
(the sending window).

How customers and the operator change the policy is elsewhere: signatures and templates
(registration and review) in :mod:`duanxin.service.review`; the blacklist, opt-outs,
sensitive words, frequency overrides and the audit log in :mod:`duanxin.service.lists`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.bus.limits import Hits
from duanxin.domain.accounts import Account
from duanxin.domain.policy import (
    MAX_CONTENT_CHARS,
    ContentDecision,
    ContentPolicy,
    FrequencyRules,
    PolicyError,
    TemplateKind,
    frequency_checks,
    hold_until,
    signature_of,
    validate_signature,
)
from duanxin.domain.status import Status, StatusError
from duanxin.service.policy_cache import AccountRules

# Registration and review moved to duanxin.service.review; these stay importable from here.
from duanxin.service.review import (
    approve_signature,
    approve_template,
    register_signature,
    register_template,
    reject_template,
)
from duanxin.store import policy as policy_store
from duanxin.store.prepared import KeptReader

if TYPE_CHECKING:
    from duanxin.service.platform import Platform

__all__ = [
    "approve_signature",
    "approve_template",
    "check_content",
    "content_policy",
    "frequency_hits",
    "marketing_hold",
    "priced_content",
    "refused_numbers",
    "register_signature",
    "register_template",
    "reject_template",
]


def content_policy(account: Account, rules: AccountRules, platform_words: Any) -> ContentPolicy:
    """The account's snapshot: its default signature counts only once approved; content
    matching none of its templates takes its declared default kind, else the classifier's."""
    default = _canonical(account.default_signature)
    return ContentPolicy(
        approved_signatures=rules.signatures,
        default_signature=default if default in rules.signatures else None,
        template_required=account.template_required,
        templates=rules.templates,
        words=platform_words,
        default_kind=account.default_kind,
    )


def _canonical(signature: str) -> str | None:
    try:
        return validate_signature(signature) if signature else None
    except PolicyError:
        return None


async def check_content(
    platform: Platform, account: Account, content: str
) -> tuple[ContentDecision, FrequencyRules]:
    """The content as it will be sent (or a refusal), and the account's frequency rules.

    Empty or over-long content is malformed (status 1) before any policy rule applies.
    """
    if not content.strip():
        raise StatusError(Status.MALFORMED, "content is empty")
    if len(content) > MAX_CONTENT_CHARS:
        raise StatusError(Status.MALFORMED, f"content exceeds {MAX_CONTENT_CHARS} characters")
    rules = await platform.policy.account(platform.reader, account.id)
    words = await platform.policy.words(platform.reader)
    return content_policy(account, rules, words).check(content), rules.frequency


def priced_content(account: Account, content: str) -> str:
    """What ``content`` would be sent as for pricing: with the default signature if unsigned."""
    content = content.strip()
    default = _canonical(account.default_signature)
    if default and signature_of(content) is None:
        return default + content
    return content


async def refused_numbers(
    conn: AsyncConnection | KeptReader, account_id: int, mobiles: Sequence[str]
) -> set[str]:
    """Those of ``mobiles`` (canonical) on the global blacklist or the account's opt-outs."""
    if not mobiles:
        return set()
    return await policy_store.refused(conn, account_id, mobiles)


async def frequency_hits(
    platform: Platform,
    rules: FrequencyRules,
    account_id: int,
    mobiles: Sequence[str],
    kind: TemplateKind,
    now: datetime,
) -> Hits:
    """Count one message to each of ``mobiles`` in one limiter call: ``allowed[i]`` says
    whether ``mobiles[i]`` is within its limits (counted on every scope, else on none).
    Give the result to ``platform.limiter.undo`` if the request is not accepted after all."""
    batch = [frequency_checks(rules, account_id, mobile, kind) for mobile in mobiles]
    return await platform.limiter.hit_many(batch, now.timestamp())


def marketing_hold(platform: Platform, kind: TemplateKind, at: datetime) -> datetime | None:
    """When marketing to be sent at ``at`` must wait for the window to open (else None)."""
    if kind is not TemplateKind.MARKETING:
        return None
    return hold_until(at, platform.marketing_window)
