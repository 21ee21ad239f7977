"""Frequency rules: defaults, overrides, key building, and the pairs a RateLimiter checks."""

from __future__ import annotations

import pytest

from duanxin.bus.limits import MemoryLimiter
from duanxin.domain.policy.errors import PolicyError
from duanxin.domain.policy.frequency import (
    DEFAULT_FREQUENCY,
    FrequencyRules,
    account_key,
    format_limits,
    frequency_checks,
    parse_limits,
    platform_key,
)
from duanxin.domain.policy.templates import TemplateKind

V, N, M = TemplateKind.VERIFICATION, TemplateKind.NOTIFICATION, TemplateKind.MARKETING
NUMBER = "13800138000"


def test_defaults_follow_the_spec() -> None:
    assert DEFAULT_FREQUENCY.verification == ((1, 60.0), (5, 3600.0), (10, 86400.0))
    assert DEFAULT_FREQUENCY.notification == ()
    assert DEFAULT_FREQUENCY.marketing == ()
    assert DEFAULT_FREQUENCY.platform == ((40, 86400.0),)


def test_keys_are_built_in_one_place() -> None:
    assert account_key(7, NUMBER, V) == "freq:acct:7:verification:13800138000"
    assert account_key("7", NUMBER, None) == account_key(7, NUMBER, N)  # None is notification
    assert platform_key(NUMBER) == "freq:all:13800138000"
    keys = {account_key(a, n, k) for a in (1, 2) for n in ("1", "2") for k in (V, N, M)}
    assert len(keys) == 12 and not keys & {platform_key("1"), platform_key("2")}


def test_checks_for_a_verification_code() -> None:
    assert frequency_checks(DEFAULT_FREQUENCY, 7, NUMBER, V) == [
        ("freq:acct:7:verification:13800138000", ((1, 60.0), (5, 3600.0), (10, 86400.0))),
        ("freq:all:13800138000", ((40, 86400.0),)),
    ]


@pytest.mark.parametrize("kind", [N, M, None])
def test_checks_without_limits_of_their_own(kind: TemplateKind | None) -> None:
    assert frequency_checks(DEFAULT_FREQUENCY, 7, NUMBER, kind) == [
        ("freq:all:13800138000", ((40, 86400.0),))
    ]


def test_operator_overrides_per_account() -> None:
    rules = DEFAULT_FREQUENCY.with_overrides(
        {"verification": [(3, 60)], M: parse_limits("2/day"), "platform": ()}
    )
    assert rules.verification == ((3, 60.0),)
    assert rules.marketing == ((2, 86400.0),)
    assert rules.notification == ()
    assert frequency_checks(rules, 7, NUMBER, M) == [
        ("freq:acct:7:marketing:13800138000", ((2, 86400.0),))
    ]
    assert frequency_checks(rules.with_overrides({V: ()}), 7, NUMBER, V) == []
    assert DEFAULT_FREQUENCY.verification[0] == (1, 60.0)  # the defaults are untouched


@pytest.mark.parametrize(
    "overrides", [{"spam": [(1, 60)]}, {V: [(-1, 60)]}, {V: [(1, 0)]}, {V: [(1.5, 60)]}]
)
def test_bad_overrides(overrides: dict[str, list[tuple[float, float]]]) -> None:
    with pytest.raises(PolicyError):
        DEFAULT_FREQUENCY.with_overrides(overrides)  # type: ignore[arg-type]


def test_limits_are_sorted_by_window() -> None:
    assert FrequencyRules(verification=((10, 86400), (1, 60))).verification == (
        (1, 60.0),
        (10, 86400.0),
    )


@pytest.mark.parametrize(
    ("text", "limits", "spelled"),
    [
        ("1/min, 5/hour, 10/day", ((1, 60.0), (5, 3600.0), (10, 86400.0)), "1/min, 5/hour, 10/day"),
        ("1/minute,5/hours,10/days", ((1, 60.0), (5, 3600.0), (10, 86400.0)), None),
        ("3/90s", ((3, 90.0),), "3/90s"),
        ("3/90", ((3, 90.0),), "3/90s"),
        ("2/2h", ((2, 7200.0),), "2/2h"),
        ("2/ 1.5 d", ((2, 129600.0),), "2/36h"),
        ("0/day", ((0, 86400.0),), "0/day"),
        ("", (), ""),
    ],
)
def test_parse_and_format_limits(
    text: str, limits: tuple[tuple[int, float], ...], spelled: str | None
) -> None:
    assert parse_limits(text) == limits
    if spelled is not None:
        assert format_limits(limits) == spelled
        assert parse_limits(format_limits(limits)) == limits


@pytest.mark.parametrize("text", ["5", "5/", "/hour", "5/week", "5/0s", "a/day", "1/.", "-1/day"])
def test_parse_limits_refuses(text: str) -> None:
    with pytest.raises(PolicyError):
        parse_limits(text)


async def test_pairs_drive_a_rate_limiter() -> None:
    limiter = MemoryLimiter()

    async def send(now: float, kind: TemplateKind | None = V, account: int = 7) -> bool:
        for key, limits in frequency_checks(DEFAULT_FREQUENCY, account, NUMBER, kind):
            if not await limiter.hit(key, limits, now):
                return False
        return True

    assert await send(0.0)
    assert not await send(59.9)  # 1 per minute
    assert await send(0.0, account=8)  # another account has its own window
    assert await send(60.0)
    for minute in range(2, 5):
        assert await send(60.0 * minute)
    assert not await send(300.0)  # 5 per hour reached
    # notifications count only against the platform-wide 40/day (6 hits so far)
    results = [await send(400.0 + i, kind=None) for i in range(40)]
    assert results.count(True) == 34
    await limiter.close()
