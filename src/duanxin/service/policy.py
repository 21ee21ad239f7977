"""The policy service (SPEC 2.3, 3 "Policy"; issue 4): what sends are checked against, and
how customers and the operator change it.

Sending (:mod:`duanxin.service.send` calls these): :func:`check_content` (the account's
:class:`~duanxin.domain.policy.ContentPolicy`), :func:`refused_numbers` (global blacklist
and the account's opt-outs, one query each per batch), :func:`frequency_allows` (the
rate limiter on the platform), :func:`marketing_hold` (the sending window).

Registration and review: signatures and templates registered by a customer are pending
until the operator approves or rejects them (with a reason); the operator manages the
blacklist, opt-outs, sensitive words, frequency overrides and default signatures. Every
change is written to the audit log (who, what, when) in the same transaction, and
invalidates this process's :class:`~duanxin.service.policy_cache.PolicyCache` (others
catch up within ``policy_cache_seconds``). Bad input raises ``ValueError`` (including
:class:`~duanxin.domain.policy.PolicyError`) and an unknown account or row raises
``LookupError``: the front doors answer both as the client's error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.accounts import Account
from duanxin.domain.numbers import normalise_mobile
from duanxin.domain.policy import (
    DEFAULT_FREQUENCY,
    MAX_CONTENT_CHARS,
    ContentDecision,
    ContentPolicy,
    FrequencyRules,
    Limits,
    PolicyError,
    TemplateKind,
    compile_template,
    format_limits,
    frequency_checks,
    hold_until,
    parse_limits,
    parse_word_file,
    signature_of,
    validate_signature,
    validate_template,
    validate_word,
)
from duanxin.domain.status import Status, StatusError
from duanxin.service.policy_cache import AccountRules
from duanxin.store import accounts as account_store
from duanxin.store import policy as policy_store
from duanxin.store.policy import ReviewState
from duanxin.store.tables import signatures, templates

if TYPE_CHECKING:
    from duanxin.service.platform import Platform

__all__ = [
    "FREQUENCY_SCOPES",
    "NumberImport",
    "approve_signature",
    "approve_template",
    "approved_default",
    "audit_list",
    "blacklist_add",
    "blacklist_import",
    "blacklist_list",
    "blacklist_remove",
    "check_content",
    "content_policy",
    "frequency_allows",
    "frequency_set",
    "frequency_show",
    "list_signatures",
    "list_templates",
    "marketing_hold",
    "optout_add",
    "optout_list",
    "optout_remove",
    "priced_content",
    "refused_numbers",
    "register_signature",
    "register_template",
    "reject_signature",
    "reject_template",
    "set_default_signature",
    "signature_on_create",
    "words_add",
    "words_categories",
    "words_import",
    "words_list",
    "words_remove",
]

FREQUENCY_SCOPES = ("verification", "notification", "marketing", "platform")
MAX_REASON_CHARS = 500
AUDIT_NUMBERS = 20  # numbers named in one audit row's detail (the count is always there)


# ---------------------------------------------------------------------------- sending


def content_policy(account: Account, rules: AccountRules, platform_words: Any) -> ContentPolicy:
    """The account's snapshot: its default signature counts only once approved."""
    default = _canonical(account.default_signature)
    return ContentPolicy(
        approved_signatures=rules.signatures,
        default_signature=default if default in rules.signatures else None,
        template_required=account.template_required,
        templates=rules.templates,
        words=platform_words,
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
    conn: AsyncConnection, account_id: int, mobiles: Sequence[str]
) -> set[str]:
    """Those of ``mobiles`` (canonical) on the global blacklist or the account's opt-outs."""
    if not mobiles:
        return set()
    return await policy_store.refused(conn, account_id, mobiles)


async def frequency_allows(
    platform: Platform,
    rules: FrequencyRules,
    account_id: int,
    mobile: str,
    kind: TemplateKind | None,
    now: datetime,
) -> bool:
    """Count one message to ``mobile``; False (nothing more counted) at the first limit hit."""
    moment = now.timestamp()
    for key, limits in frequency_checks(rules, account_id, mobile, kind):
        if not await platform.limiter.hit(key, limits, moment):
            return False
    return True


def marketing_hold(platform: Platform, kind: TemplateKind | None, at: datetime) -> datetime | None:
    """When marketing to be sent at ``at`` must wait for the window to open (else None)."""
    if kind is not TemplateKind.MARKETING:
        return None
    return hold_until(at, platform.marketing_window)


# ------------------------------------------------------------------- accounts, views


async def _account(conn: AsyncConnection, name: str) -> Account:
    found = await account_store.find_account(conn, name)
    if found is None:
        raise LookupError(f"no account {name!r}")
    return found


def _review_view(row: RowMapping, text_key: str) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row["id"],
        "account": row["account"],
        text_key: row["text"],
        "state": row["state"],
        "reason": row["reason"],
        "created_at": row["created_at"],
        "decided_at": row["decided_at"],
        "decided_by": row["decided_by"],
    }
    if "kind" in row:
        view["kind"] = row["kind"]
    return view


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValueError("a rejection needs a reason")
    if len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"reason is longer than {MAX_REASON_CHARS} characters")
    return reason


# ------------------------------------------------------------------------ signatures


async def register_signature(platform: Platform, account: str, text: str) -> dict[str, Any]:
    """A customer submits a signature for review (again after a rejection)."""
    signature = validate_signature(text)
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        existing = await policy_store.find_signature(conn, found.id, signature)
        if existing is None:
            row_id = await policy_store.add_signature(conn, found.id, signature, now)
        else:
            row_id = int(existing["id"])
            if existing["state"] == ReviewState.REJECTED.value:
                await conn.execute(
                    update(signatures)
                    .where(signatures.c.id == row_id)
                    .values(state=ReviewState.PENDING.value, decided_at=None, decided_by=None)
                )
        if existing is None or existing["state"] == ReviewState.REJECTED.value:
            await account_store.write_audit(
                conn, account, "signature.register", f"{account} {signature}", {"id": row_id}, now
            )
        row = await policy_store.get_review(conn, signatures, row_id)
    assert row is not None
    return _review_view(row, "signature")


async def signature_on_create(
    conn: AsyncConnection, account_id: int, account: str, text: str, actor: str, now: datetime
) -> str:
    """The operator creating an account with a default signature approves that signature."""
    signature = validate_signature(text)
    row_id = await policy_store.add_signature(
        conn, account_id, signature, now, ReviewState.APPROVED
    )
    await policy_store.decide(conn, signatures, row_id, ReviewState.APPROVED, "", actor, now)
    await account_store.write_audit(
        conn, actor, "signature.approve", f"{account} {signature}", {"id": row_id}, now
    )
    return signature


async def _decide(
    platform: Platform, table: Table, row_id: int, state: ReviewState, reason: str, actor: str
) -> dict[str, Any]:
    noun = "signature" if table is signatures else "template"
    now = platform.clock()
    async with platform.engine.begin() as conn:
        row = await policy_store.get_review(conn, table, row_id)
        if row is None:
            raise LookupError(f"no {noun} {row_id}")
        if state is ReviewState.APPROVED and table is templates:
            compile_template(row_id, row["kind"], row["text"])  # PolicyError: cannot approve
        await policy_store.decide(conn, table, row_id, state, reason, actor, now)
        verb = "approve" if state is ReviewState.APPROVED else "reject"
        subject = f"{row['account']} {row['text']}"[:128]
        await account_store.write_audit(
            conn, actor, f"{noun}.{verb}", subject, {"id": row_id, "reason": reason}, now
        )
        decided = await policy_store.get_review(conn, table, row_id)
    assert decided is not None
    platform.policy.invalidate_account(int(row["account_id"]))
    return _review_view(decided, noun)


async def approve_signature(platform: Platform, row_id: int, actor: str) -> dict[str, Any]:
    return await _decide(platform, signatures, row_id, ReviewState.APPROVED, "", actor)


async def reject_signature(
    platform: Platform, row_id: int, reason: str, actor: str
) -> dict[str, Any]:
    return await _decide(platform, signatures, row_id, ReviewState.REJECTED, _reason(reason), actor)


async def _list(
    platform: Platform, table: Table, account: str | None, state: str | None
) -> list[dict[str, Any]]:
    wanted = ReviewState(state) if state else None
    async with platform.engine.connect() as conn:
        account_id = (await _account(conn, account)).id if account else None
        rows = await policy_store.list_reviews(conn, table, account_id=account_id, state=wanted)
    noun = "signature" if table is signatures else "template"
    return [_review_view(row, noun) for row in rows]


async def list_signatures(
    platform: Platform, account: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    """Signatures in id order, of one account and/or state (``pending`` for the review queue)."""
    return await _list(platform, signatures, account, state)


async def set_default_signature(
    platform: Platform, account: str, signature: str, actor: str
) -> str:
    """Set (``""``: clear) an account's default signature; it must be approved for it."""
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        canonical = await approved_default(conn, found.id, signature)
        await account_store.update_account(conn, found.id, {"default_signature": canonical})
        await account_store.write_audit(
            conn, actor, "account.default_signature", account, {"signature": canonical}, now
        )
    platform.forget_cached()
    return canonical


async def approved_default(conn: AsyncConnection, account_id: int, signature: str) -> str:
    """The canonical form of a default signature to set, refused unless approved."""
    if not signature.strip():
        return ""
    canonical = validate_signature(signature)
    row = await policy_store.find_signature(conn, account_id, canonical)
    if row is None or row["state"] != ReviewState.APPROVED.value:
        raise ValueError(f"signature {canonical} is not approved for this account")
    return canonical


# ------------------------------------------------------------------------- templates


async def register_template(
    platform: Platform, account: str, kind: str, text: str
) -> dict[str, Any]:
    """A customer submits a template; one with problems is refused at once, naming them."""
    words = await platform.policy.words(platform.engine)
    problems = validate_template(kind, text, words=words)
    if problems:
        raise PolicyError("template refused: " + "; ".join(problems))
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        row_id = await policy_store.add_template(
            conn, found.id, TemplateKind(kind).value, text, now
        )
        await account_store.write_audit(
            conn, account, "template.register", account, {"id": row_id, "kind": kind}, now
        )
        row = await policy_store.get_review(conn, templates, row_id)
    assert row is not None
    return _review_view(row, "template")


async def approve_template(platform: Platform, row_id: int, actor: str) -> dict[str, Any]:
    return await _decide(platform, templates, row_id, ReviewState.APPROVED, "", actor)


async def reject_template(
    platform: Platform, row_id: int, reason: str, actor: str
) -> dict[str, Any]:
    return await _decide(platform, templates, row_id, ReviewState.REJECTED, _reason(reason), actor)


async def list_templates(
    platform: Platform, account: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    return await _list(platform, templates, account, state)


# ------------------------------------------------------------- blacklist and opt-outs


@dataclass(frozen=True, slots=True)
class NumberImport:
    """What adding a list of numbers did."""

    added: int  # new on the list
    known: int  # already on it
    invalid: int  # not mainland mobile numbers (skipped)
    invalid_examples: tuple[str, ...] = ()


def _numbers(raws: Iterable[str]) -> tuple[list[str], list[str]]:
    valid: list[str] = []
    invalid: list[str] = []
    for raw in raws:
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        number = normalise_mobile(text)
        if number is None:
            invalid.append(text[:32])
        else:
            valid.append(number)
    return valid, invalid


def _lines(text: str) -> list[str]:
    return text.removeprefix("\ufeff").replace(",", "\n").splitlines()


async def blacklist_add(
    platform: Platform, mobiles: Iterable[str], actor: str, reason: str = "", *, action: str = "add"
) -> NumberImport:
    """Put numbers on the global blacklist (every account's sends to them are refused)."""
    valid, invalid = _numbers(mobiles)
    if not valid and not invalid:
        raise ValueError("no numbers given")
    now = platform.clock()
    async with platform.engine.begin() as conn:
        added = await policy_store.add_blacklist(conn, valid, reason, now)
        detail = {
            "added": added,
            "invalid": len(invalid),
            "numbers": sorted(set(valid))[:AUDIT_NUMBERS],
            "reason": reason,
        }
        await account_store.write_audit(
            conn, actor, f"blacklist.{action}", f"{len(set(valid))} numbers", detail, now
        )
    return NumberImport(added, len(set(valid)) - added, len(invalid), tuple(invalid[:10]))


async def blacklist_import(
    platform: Platform, text: str, actor: str, reason: str = ""
) -> NumberImport:
    """A file of numbers, one per line (commas also separate; ``#`` lines are comments)."""
    return await blacklist_add(platform, _lines(text), actor, reason, action="import")


async def blacklist_remove(platform: Platform, mobiles: Iterable[str], actor: str) -> int:
    valid, invalid = _numbers(mobiles)
    if invalid:
        raise ValueError(f"not a mainland mobile number: {invalid[0]}")
    now = platform.clock()
    async with platform.engine.begin() as conn:
        removed = await policy_store.remove_blacklist(conn, valid)
        await account_store.write_audit(
            conn,
            actor,
            "blacklist.remove",
            f"{len(set(valid))} numbers",
            {"removed": removed, "numbers": sorted(set(valid))[:AUDIT_NUMBERS]},
            now,
        )
    return removed


async def blacklist_list(
    platform: Platform, limit: int = 1000, offset: int = 0
) -> tuple[int, list[dict[str, Any]]]:
    async with platform.engine.connect() as conn:
        total, rows = await policy_store.list_blacklist(conn, limit=limit, offset=offset)
    return total, [dict(row) for row in rows]


async def optout_add(
    platform: Platform, account: str, mobiles: Iterable[str], actor: str
) -> NumberImport:
    """Put numbers on one account's opt-out list (as a reply keyword would)."""
    valid, invalid = _numbers(mobiles)
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        known = await policy_store.opted_out(conn, found.id, sorted(set(valid)))
        await policy_store.add_optouts(conn, found.id, valid, now)
        added = len(set(valid) - known)
        detail = {"added": added, "numbers": sorted(set(valid))[:AUDIT_NUMBERS]}
        await account_store.write_audit(conn, actor, "optout.add", account, detail, now)
    return NumberImport(added, len(known), len(invalid), tuple(invalid[:10]))


async def optout_remove(
    platform: Platform, account: str, mobiles: Iterable[str], actor: str
) -> int:
    valid, invalid = _numbers(mobiles)
    if invalid:
        raise ValueError(f"not a mainland mobile number: {invalid[0]}")
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        removed = await policy_store.remove_optouts(conn, found.id, valid)
        detail = {"removed": removed, "numbers": sorted(set(valid))[:AUDIT_NUMBERS]}
        await account_store.write_audit(conn, actor, "optout.remove", account, detail, now)
    return removed


async def optout_list(platform: Platform, account: str) -> list[dict[str, Any]]:
    async with platform.engine.connect() as conn:
        found = await _account(conn, account)
        return [dict(row) for row in await policy_store.list_optouts(conn, found.id)]


# ------------------------------------------------------------------- sensitive words


async def _store_words(
    platform: Platform, entries: Sequence[Any], actor: str, action: str, subject: str
) -> int:
    if not entries:
        raise ValueError("no words given")
    now = platform.clock()
    async with platform.engine.begin() as conn:
        added = await policy_store.upsert_words(conn, entries, now)
        categories = sorted({e.category for e in entries})
        detail = {"added": added, "entries": len(entries), "categories": categories}
        await account_store.write_audit(conn, actor, f"words.{action}", subject, detail, now)
    platform.policy.invalidate_words()
    return added


async def words_add(platform: Platform, word: str, actor: str, category: str = "default") -> int:
    """Add one word (or move it to ``category``); 1 when it was new."""
    entry = validate_word(word, category)
    return await _store_words(platform, [entry], actor, "add", entry.category)


async def words_import(
    platform: Platform, text: str, actor: str, default_category: str = "default"
) -> int:
    """A word file (``word<TAB>category`` lines); returns how many words were new."""
    entries = parse_word_file(text, default_category)
    return await _store_words(platform, entries, actor, "import", f"{len(entries)} words")


async def words_remove(platform: Platform, words: Iterable[str], actor: str) -> int:
    listed = sorted({w.strip() for w in words if w.strip()})
    if not listed:
        raise ValueError("no words given")
    now = platform.clock()
    async with platform.engine.begin() as conn:
        removed = await policy_store.remove_words(conn, listed)
        await account_store.write_audit(
            conn, actor, "words.remove", f"{len(listed)} words", {"removed": removed}, now
        )
    platform.policy.invalidate_words()
    return removed


async def words_categories(platform: Platform) -> dict[str, int]:
    """Words per category (what listings show; the words themselves stay in the store)."""
    async with platform.engine.connect() as conn:
        return await policy_store.word_categories(conn)


async def words_list(platform: Platform, category: str | None = None) -> list[dict[str, str]]:
    """The words themselves, for the operator's own tools (never shown to customers)."""
    async with platform.engine.connect() as conn:
        entries = await policy_store.list_words(conn)
    return [
        {"word": e.word, "category": e.category}
        for e in entries
        if category is None or e.category == category
    ]


# ------------------------------------------------------------------ frequency limits


def _scope(scope: str) -> str:
    if scope not in FREQUENCY_SCOPES:
        raise ValueError(f"unknown scope {scope!r}: one of {', '.join(FREQUENCY_SCOPES)}")
    return scope


async def frequency_set(
    platform: Platform, account: str, scope: str, limits: str | None, actor: str
) -> dict[str, dict[str, Any]]:
    """Override one scope's limits (``"1/min, 5/hour"``; ``""``: none; None: the default)."""
    parsed: Limits | None = None if limits is None else parse_limits(limits)
    _scope(scope)
    if parsed is not None:
        DEFAULT_FREQUENCY.with_overrides({scope: parsed})  # PolicyError on a bad limit
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        await policy_store.set_frequency(conn, found.id, scope, parsed)
        shown = "default" if parsed is None else format_limits(parsed) or "none"
        await account_store.write_audit(
            conn, actor, "frequency.set", account, {"scope": scope, "limits": shown}, now
        )
    platform.policy.invalidate_account(found.id)
    return await frequency_show(platform, account)


async def frequency_show(platform: Platform, account: str) -> dict[str, dict[str, Any]]:
    """Each scope's limits in force for the account, and whether the operator set them."""
    async with platform.engine.connect() as conn:
        found = await _account(conn, account)
        overrides = await policy_store.frequency_overrides(conn, found.id)
    rules = DEFAULT_FREQUENCY.with_overrides(overrides)
    return {
        scope: {
            "limits": format_limits(getattr(rules, scope)),
            "pairs": [list(pair) for pair in getattr(rules, scope)],
            "overridden": scope in overrides,
        }
        for scope in FREQUENCY_SCOPES
    }


# ------------------------------------------------------------------------- audit log


async def audit_list(
    platform: Platform,
    limit: int = 100,
    actor: str | None = None,
    action: str | None = None,
) -> list[dict[str, Any]]:
    """The latest audit rows first: who, when, what (``action`` matches as a prefix)."""
    async with platform.engine.connect() as conn:
        rows = await policy_store.list_audit(conn, limit=limit, actor=actor, action=action)
    return [dict(row) for row in rows]
