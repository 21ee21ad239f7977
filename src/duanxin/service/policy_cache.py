"""Compiled policy, kept per process: the platform's word list and each account's rules.

Built from the store on first use and kept until a change made through
:mod:`duanxin.service.review` or :mod:`duanxin.service.lists` in this process invalidates
it, or for ``ttl`` seconds (settings ``policy_cache_seconds``), after which the rows are
read again so that changes made by other processes of a cluster (or by the CLI) are seen
within that time. A reload that finds the same rows keeps the compiled objects; templates
are compiled once per ``(id, kind, text)`` and reused across reloads.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from duanxin.domain.policy import (
    DEFAULT_FREQUENCY,
    FrequencyRules,
    PolicyError,
    SensitiveWords,
    Template,
    TemplateSet,
    WordEntry,
    compile_template,
)
from duanxin.store import policy as policy_store

__all__ = ["AccountRules", "PolicyCache"]

log = logging.getLogger(__name__)
TemplateRow = tuple[int, str, str]


@dataclass(frozen=True, slots=True)
class AccountRules:
    """One account's compiled rules (its account row supplies the default and the flag)."""

    signatures: frozenset[str]  # approved, canonical
    templates: TemplateSet  # approved, in id order
    frequency: FrequencyRules  # defaults with the operator's overrides


@dataclass(slots=True)
class _Words:
    loaded: float
    rows: tuple[WordEntry, ...]
    words: SensitiveWords


@dataclass(slots=True)
class _Account:
    loaded: float
    rows: tuple[tuple[str, ...], tuple[TemplateRow, ...], tuple[tuple[str, object], ...]]
    compiled: dict[TemplateRow, Template]
    rules: AccountRules


class PolicyCache:
    def __init__(self, ttl: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._words: _Words | None = None
        self._accounts: dict[int, _Account] = {}
        self._locks: dict[Hashable, asyncio.Lock] = {}

    def invalidate_words(self) -> None:
        if self._words is not None:
            self._words.loaded = -math.inf

    def invalidate_account(self, account_id: int) -> None:
        entry = self._accounts.get(account_id)
        if entry is not None:
            entry.loaded = -math.inf

    def _fresh(self, loaded: float) -> bool:
        return self._clock() - loaded < self.ttl

    def _lock(self, key: Hashable) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def words(self, engine: AsyncEngine) -> SensitiveWords:
        """The platform's sensitive-word list."""
        cached = self._words
        if cached is not None and self._fresh(cached.loaded):
            return cached.words
        async with self._lock("words"):
            cached = self._words
            if cached is not None and self._fresh(cached.loaded):
                return cached.words
            started = self._clock()
            async with engine.connect() as conn:
                rows = tuple(await policy_store.list_words(conn))
            if cached is not None and cached.rows == rows:
                cached.loaded = started
                return cached.words
            words = SensitiveWords(rows)
            self._words = _Words(started, rows, words)
            return words

    async def account(self, engine: AsyncEngine, account_id: int) -> AccountRules:
        """An account's approved signatures, approved templates and frequency rules."""
        cached = self._accounts.get(account_id)
        if cached is not None and self._fresh(cached.loaded):
            return cached.rules
        async with self._lock(account_id):
            cached = self._accounts.get(account_id)
            if cached is not None and self._fresh(cached.loaded):
                return cached.rules
            started = self._clock()
            async with engine.connect() as conn:
                signatures = tuple(await policy_store.approved_signatures(conn, account_id))
                templates = tuple(await policy_store.approved_templates(conn, account_id))
                overrides = await policy_store.frequency_overrides(conn, account_id)
            rows = (signatures, templates, tuple(sorted(overrides.items())))
            if cached is not None and cached.rows == rows:
                cached.loaded = started
                return cached.rules
            compiled = _compile(templates, cached.compiled if cached else {})
            try:
                frequency = DEFAULT_FREQUENCY.with_overrides(overrides)
            except PolicyError:
                log.exception("account %s: stored frequency limits are invalid", account_id)
                frequency = DEFAULT_FREQUENCY
            rules = AccountRules(
                frozenset(signatures),
                TemplateSet(compiled[row] for row in templates if row in compiled),
                frequency,
            )
            self._accounts[account_id] = _Account(started, rows, compiled, rules)
            return rules


def _compile(
    rows: tuple[TemplateRow, ...], previous: dict[TemplateRow, Template]
) -> dict[TemplateRow, Template]:
    compiled: dict[TemplateRow, Template] = {}
    for row in rows:
        template = previous.get(row)
        if template is None:
            try:
                template = compile_template(*row)
            except PolicyError:
                log.exception("template %s cannot be compiled; it is left out", row[0])
                continue
        compiled[row] = template
    return compiled
