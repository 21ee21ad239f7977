"""The operator's lists (SPEC 2.3, 3 "Policy"; issue 4): the global blacklist, opt-outs,
sensitive words, per-account frequency overrides, and the audit log of every change.

Every change is written to the audit log (who, what, when) in the same transaction, and
invalidates this process's :class:`~duanxin.service.policy_cache.PolicyCache` where the
cache holds it (others catch up within ``policy_cache_seconds``). Bad input raises
``ValueError`` (including :class:`~duanxin.domain.policy.PolicyError`) and an unknown
account raises ``LookupError``: the front doors answer both as the client's error.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from duanxin.domain.numbers import normalise_mobile
from duanxin.domain.policy import (
    DEFAULT_FREQUENCY,
    Limits,
    format_limits,
    parse_limits,
    validate_word,
)
from duanxin.domain.policy.files import BadLine, parse_number_file, parse_word_lines
from duanxin.service.review import _account
from duanxin.store import accounts as account_store
from duanxin.store import policy as policy_store

if TYPE_CHECKING:
    from duanxin.service.platform import Platform

__all__ = [
    "FREQUENCY_SCOPES",
    "NumberImport",
    "audit_list",
    "blacklist_add",
    "blacklist_contains",
    "blacklist_import",
    "blacklist_list",
    "blacklist_remove",
    "frequency_set",
    "frequency_show",
    "optout_add",
    "optout_import",
    "optout_list",
    "optout_remove",
    "words_add",
    "words_categories",
    "words_import",
    "words_list",
    "words_remove",
]

FREQUENCY_SCOPES = ("verification", "notification", "marketing", "platform")
AUDIT_NUMBERS = 20  # numbers named in one audit row's detail (the count is always there)


# ------------------------------------------------------------- blacklist and opt-outs


@dataclass(frozen=True, slots=True)
class NumberImport:
    """What adding a list of numbers did. An imported file's good lines are added and its
    bad lines reported (``bad_lines``: line number, text, why; the first 100)."""

    added: int  # new on the list
    known: int  # already on it
    invalid: int  # not mainland mobile numbers (skipped)
    invalid_examples: tuple[str, ...] = ()
    bad_lines: tuple[BadLine, ...] = ()


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


async def blacklist_add(
    platform: Platform, mobiles: Iterable[str], actor: str, reason: str = ""
) -> NumberImport:
    """Put numbers on the global blacklist (every account's sends to them are refused)."""
    valid, invalid = _numbers(mobiles)
    if not valid and not invalid:
        raise ValueError("no numbers given")
    added = await _blacklist(platform, valid, len(invalid), actor, reason, "add")
    return NumberImport(added, len(set(valid)) - added, len(invalid), tuple(invalid[:10]))


async def _blacklist(
    platform: Platform, valid: list[str], invalid: int, actor: str, reason: str, action: str
) -> int:
    now = platform.clock()
    async with platform.engine.begin() as conn:
        added = await policy_store.add_blacklist(conn, valid, reason, now)
        detail = {
            "added": added,
            "invalid": invalid,
            "numbers": sorted(set(valid))[:AUDIT_NUMBERS],
            "reason": reason,
        }
        await account_store.write_audit(
            conn, actor, f"blacklist.{action}", f"{len(set(valid))} numbers", detail, now
        )
    return added


def _number_file(text: str) -> tuple[list[str], int, tuple[str, ...], tuple[BadLine, ...]]:
    parsed = parse_number_file(text)
    if not parsed.numbers and not parsed.bad_count:
        raise ValueError("the file holds no numbers")
    examples = tuple(bad.text for bad in parsed.bad[:10])
    return parsed.numbers, parsed.bad_count, examples, tuple(parsed.bad)


async def blacklist_import(
    platform: Platform, text: str, actor: str, reason: str = ""
) -> NumberImport:
    """A file of numbers, one per line (or a CSV whose first column is the number; ``#``
    lines are comments): the good lines are added, the bad ones reported by number."""
    valid, invalid, examples, bad = _number_file(text)
    added = await _blacklist(platform, valid, invalid, actor, reason, "import")
    return NumberImport(added, len(set(valid)) - added, invalid, examples, bad)


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


async def blacklist_contains(platform: Platform, mobiles: Iterable[str]) -> set[str]:
    """Which of ``mobiles`` (normalised) are on the blacklist; ValueError for a bad one."""
    valid, invalid = _numbers(mobiles)
    if invalid:
        raise ValueError(f"not a mainland mobile number: {invalid[0]}")
    async with platform.engine.connect() as conn:
        return await policy_store.blacklisted(conn, sorted(set(valid)))


async def optout_add(
    platform: Platform, account: str, mobiles: Iterable[str], actor: str
) -> NumberImport:
    """Put numbers on one account's opt-out list (as a reply keyword would)."""
    valid, invalid = _numbers(mobiles)
    added, known = await _optouts(platform, account, valid, actor, "add")
    return NumberImport(added, known, len(invalid), tuple(invalid[:10]))


async def optout_import(platform: Platform, account: str, text: str, actor: str) -> NumberImport:
    """A file of numbers for one account's opt-out list (the format of
    :func:`blacklist_import`): the good lines are added, the bad ones reported."""
    valid, invalid, examples, bad = _number_file(text)
    added, known = await _optouts(platform, account, valid, actor, "import")
    return NumberImport(added, known, invalid, examples, bad)


async def _optouts(
    platform: Platform, account: str, valid: list[str], actor: str, action: str
) -> tuple[int, int]:
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        known = await policy_store.opted_out(conn, found.id, sorted(set(valid)))
        await policy_store.add_optouts(conn, found.id, valid, now)
        added = len(set(valid) - known)
        detail = {"added": added, "numbers": sorted(set(valid))[:AUDIT_NUMBERS]}
        await account_store.write_audit(conn, actor, f"optout.{action}", account, detail, now)
    return added, len(known)


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


async def optout_list(platform: Platform, account: str, starting: str = "") -> list[dict[str, Any]]:
    """The account's opted-out numbers (``starting``: those whose national form starts so,
    e.g. a whole number or its first digits)."""
    prefix = normalise_mobile(starting) or starting.strip().removeprefix("+86")
    async with platform.engine.connect() as conn:
        found = await _account(conn, account)
        rows = await policy_store.list_optouts(conn, found.id, starting=prefix)
    return [dict(row) for row in rows]


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
    platform: Platform,
    text: str,
    actor: str,
    default_category: str = "default",
    *,
    csv: bool = False,
) -> int:
    """A word file (``word<TAB>category`` lines; ``csv``: ``word,category``); how many
    words were new. All or nothing: a file with a bad line raises
    :class:`~duanxin.domain.policy.files.ListFileError` naming every bad line."""
    entries = parse_word_lines(text, default_category, csv=csv)
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


async def words_list(
    platform: Platform, category: str | None = None, containing: str | None = None
) -> list[dict[str, str]]:
    """The words themselves, for the operator's own tools (never shown to customers);
    of one ``category``, and/or those ``containing`` a text."""
    async with platform.engine.connect() as conn:
        entries = await policy_store.list_words(conn)
    return [
        {"word": e.word, "category": e.category}
        for e in entries
        if (category is None or e.category == category) and (not containing or containing in e.word)
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
