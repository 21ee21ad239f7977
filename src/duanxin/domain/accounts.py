"""Customer accounts as the service sees them, and the checks of SPEC 2.2."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from duanxin.domain.billing import ChargeType
from duanxin.domain.policy.templates import TemplateKind
from duanxin.domain.status import Status, StatusError

__all__ = [
    "ACCESS_INTERFACES",
    "AccessType",
    "Account",
    "AccountState",
    "Interface",
    "check_account",
    "ip_in_networks",
]


class AccountState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    FROZEN = "frozen"
    EXPIRED = "expired"


class Interface(StrEnum):
    """The front door a request came through."""

    HTTP = "http"
    CMPP = "cmpp"
    SMPP = "smpp"
    CONSOLE = "console"  # the web console's test send (signed in; no access type needed)


#: The front doors an account must be opened for (its access type); the console is not one.
ACCESS_INTERFACES = frozenset({Interface.HTTP, Interface.CMPP, Interface.SMPP})


class AccessType(StrEnum):
    """The interfaces an account is opened for: one, or a comma-separated set of them.

    Any order and spacing is accepted (``"smpp, http"`` is ``HTTP_SMPP``); ``both`` is the
    historical name of HTTP and CMPP.
    """

    HTTP = "http"
    CMPP = "cmpp"
    SMPP = "smpp"
    BOTH = "both"  # http and cmpp
    HTTP_SMPP = "http,smpp"
    CMPP_SMPP = "cmpp,smpp"
    ALL = "http,cmpp,smpp"

    @classmethod
    def _missing_(cls, value: object) -> AccessType | None:
        if not isinstance(value, str):
            return None
        names = {n.strip().lower() for n in value.split(",") if n.strip()}
        if "both" in names:
            names = (names - {"both"}) | {"http", "cmpp"}
        for member in cls:
            if member.interfaces == names:
                return member
        return None

    @property
    def interfaces(self) -> frozenset[str]:
        """The interface names this access type opens."""
        if self is AccessType.BOTH:
            return frozenset({"http", "cmpp"})
        return frozenset(self.value.split(","))


@dataclass(frozen=True, slots=True)
class Account:
    id: int
    customer_id: int
    account: str
    password: str
    spid: str
    extno: str
    charge_type: ChargeType
    balance: int
    refund_on_failure: bool
    state: AccountState
    access_type: AccessType
    ip_whitelist: str
    max_concurrency: int
    template_required: bool
    default_signature: str
    # The kind of its content that matches no template (None: the classifier decides).
    default_kind: TemplateKind | None = None
    # Messages per second the account may submit, every front door together (0: no limit).
    tps: int = 0

    def allows_interface(self, interface: Interface) -> bool:
        return interface.value in self.access_type.interfaces

    def allows_ip(self, ip: str | None) -> bool:
        """True when no whitelist is set or ``ip`` falls in one of its addresses/networks."""
        entries = [e for e in self.ip_whitelist.replace(";", ",").split(",") if e.strip()]
        if not entries:
            return True
        return ip is not None and ip_in_networks(ip, entries)


def ip_in_networks(ip: str, networks: Iterable[str]) -> bool:
    """True when ``ip`` is one of ``networks`` (addresses or CIDR, IPv4 or IPv6).

    Unreadable addresses and entries never match.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for entry in networks:
        try:
            if address in ipaddress.ip_network(entry.strip(), strict=False):
                return True
        except ValueError:
            continue
    return False


def password_matches(account: Account, password: str) -> bool:
    return hmac.compare_digest(account.password.encode(), password.encode())


def check_account(
    account: Account | None,
    password: str,
    *,
    customer_id: int | None,
    ip: str | None,
    interface: Interface,
) -> Account:
    """Apply SPEC 2.2 in its order; return the account or raise :class:`StatusError`."""
    if (
        account is None
        or not password_matches(account, password)
        or (customer_id is not None and account.customer_id != customer_id)
    ):
        raise StatusError(Status.WRONG_ACCOUNT)
    if account.state is not AccountState.ACTIVE:
        raise StatusError(Status.ACCOUNT_STATE, f"account is {account.state.value}")
    if not account.allows_ip(ip):
        raise StatusError(Status.IP_NOT_ALLOWED, f"caller IP {ip} is not in the whitelist")
    if not account.allows_interface(interface):
        raise StatusError(
            Status.ACCESS_POINT, f"account is opened for {account.access_type.value} access only"
        )
    return account
