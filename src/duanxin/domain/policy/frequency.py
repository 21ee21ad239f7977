"""Per-number frequency limits as data, and the rate-limit keys that enforce them.

Limits are ``(count, window_seconds)`` pairs, the shape
:meth:`duanxin.bus.limits.RateLimiter.hit` takes. Two scopes (SPEC 3):

- per number *and* account, by template kind (defaults: verification 1/minute, 5/hour,
  10/day; notification and marketing: none of their own), operator-configurable per
  account with :meth:`FrequencyRules.with_overrides`;
- per number across the platform, every kind and account together (default 40/day).

Content that matched no template (kind None) counts as notification. This module does no
I/O: the service asks :func:`frequency_checks` for each number's ``(key, limits)`` pairs and
gives a request's numbers to ``RateLimiter.hit_many`` in one call; a number is refused
(per-number result 5) when any of its checks refuses, and then counted on none. Keys are
built here and only here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from duanxin.domain.policy.errors import PolicyError
from duanxin.domain.policy.templates import TemplateKind

__all__ = [
    "DEFAULT_FREQUENCY",
    "FrequencyRules",
    "Limits",
    "account_key",
    "format_limits",
    "frequency_checks",
    "parse_limits",
    "platform_key",
]

Limits = tuple[tuple[int, float], ...]

MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0


def _checked(limits: Sequence[tuple[int, float]]) -> Limits:
    result: list[tuple[int, float]] = []
    for count, window in limits:
        if int(count) != count or count < 0:
            raise PolicyError(f"limit count must be a whole number >= 0, got {count}")
        if not (window > 0 and math.isfinite(window)):
            raise PolicyError(f"limit window must be a positive number of seconds, got {window}")
        result.append((int(count), float(window)))
    return tuple(sorted(result, key=lambda pair: pair[1]))


@dataclass(frozen=True, slots=True)
class FrequencyRules:
    """The limits in force for one account (defaults with its operator overrides)."""

    verification: Limits = ((1, MINUTE), (5, HOUR), (10, DAY))
    notification: Limits = ()
    marketing: Limits = ()
    platform: Limits = ((40, DAY),)

    def __post_init__(self) -> None:
        for name in ("verification", "notification", "marketing", "platform"):
            object.__setattr__(self, name, _checked(getattr(self, name)))

    def for_kind(self, kind: TemplateKind | None) -> Limits:
        """The per-number-and-account limits for a kind (None counts as notification)."""
        if kind is TemplateKind.VERIFICATION:
            return self.verification
        if kind is TemplateKind.MARKETING:
            return self.marketing
        return self.notification

    def with_overrides(
        self, overrides: Mapping[TemplateKind | str, Sequence[tuple[int, float]]]
    ) -> FrequencyRules:
        """These rules with some kinds' limits replaced (``()`` lifts a kind's limits).

        Keys are template kinds (or their names) and ``"platform"``.
        """
        changes: dict[str, Limits] = {}
        for kind, limits in overrides.items():
            name = str(kind)
            if name not in ("verification", "notification", "marketing", "platform"):
                raise PolicyError(f"unknown frequency scope {name!r}")
            changes[name] = _checked(limits)
        return replace(self, **changes)


DEFAULT_FREQUENCY = FrequencyRules()


def account_key(account_id: int | str, number: str, kind: TemplateKind | None) -> str:
    """Rate-limit key of one number for one account and kind (None → notification)."""
    return f"freq:acct:{account_id}:{kind or TemplateKind.NOTIFICATION}:{number}"


def platform_key(number: str) -> str:
    """Rate-limit key of one number across the whole platform."""
    return f"freq:all:{number}"


def frequency_checks(
    rules: FrequencyRules, account_id: int | str, number: str, kind: TemplateKind | None
) -> list[tuple[str, Limits]]:
    """The ``(key, limits)`` pairs to hit, account scope first; scopes without limits left out.

    ``number`` must be the canonical 11-digit form, so ``+86`` spellings share a key.
    ``RateLimiter.hit_many`` records a number on all of them or, when one refuses, none.
    """
    checks: list[tuple[str, Limits]] = []
    own = rules.for_kind(kind)
    if own:
        checks.append((account_key(account_id, number, kind), own))
    if rules.platform:
        checks.append((platform_key(number), rules.platform))
    return checks


_UNITS = {
    "s": 1.0, "sec": 1.0, "second": 1.0,
    "m": MINUTE, "min": MINUTE, "minute": MINUTE,
    "h": HOUR, "hour": HOUR,
    "d": DAY, "day": DAY,
}  # fmt: skip
_LIMIT = re.compile(r"(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]*)")


def parse_limits(text: str) -> Limits:
    """Parse limits as an operator writes them: ``"1/min, 5/hour, 10/day"``.

    Each item is ``count/window``: the window a number with a unit (``90s``, ``2h``,
    ``1d``; ``s``/``m``/``h``/``d`` or their names, plural allowed) or a unit alone
    (``hour`` = 1 hour). Bare numbers are seconds. An empty text is no limit at all.
    """
    if not text.strip():
        return ()
    limits: list[tuple[int, float]] = []
    for item in text.split(","):
        found = _LIMIT.fullmatch(item.strip().lower())
        count, amount, unit = found.groups() if found else ("", None, "")
        if unit not in _UNITS and unit.endswith("s"):
            unit = unit[:-1]
        if not found or not (amount or unit) or (unit or "s") not in _UNITS:
            raise PolicyError(f"bad limit {item.strip()!r}: write e.g. 5/hour or 3/90s")
        limits.append((int(count), float(amount or 1) * _UNITS[unit or "s"]))
    return _checked(limits)


def format_limits(limits: Limits) -> str:
    """The operator's spelling of limits, e.g. ``"1/min, 5/hour, 10/day"``."""
    names = ((DAY, "day"), (HOUR, "hour"), (MINUTE, "min"))
    items = []
    for count, window in limits:
        for size, name in names:
            if window % size == 0:
                amount = int(window // size)
                items.append(f"{count}/{name}" if amount == 1 else f"{count}/{amount}{name[0]}")
                break
        else:
            items.append(f"{count}/{window:g}s")
    return ", ".join(items)
