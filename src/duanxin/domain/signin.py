"""Sign-in throttling for the web console: how many failures lock a name or an address."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

__all__ = ["Realm", "SignInLimits", "SignInRefusal", "is_throttled"]


@dataclass(frozen=True, slots=True)
class SignInLimits:
    """Failed sign-ins allowed within ``window`` before further tries are refused unread:
    ``per_name`` for one user (or account) from anywhere, ``per_address`` from one client
    address whatever the name (someone trying many names)."""

    per_name: int = 5
    per_address: int = 20
    window: timedelta = timedelta(minutes=15)


def is_throttled(name_failures: int, address_failures: int, limits: SignInLimits) -> bool:
    """True when a sign-in must be refused without looking at its password."""
    return name_failures >= limits.per_name or address_failures >= limits.per_address


class Realm(StrEnum):
    """Who signs in to the console: the platform's operators, or a customer's account."""

    OPERATOR = "operator"
    CUSTOMER = "customer"


class SignInRefusal(StrEnum):
    BAD_CREDENTIALS = "bad_credentials"
    THROTTLED = "throttled"
