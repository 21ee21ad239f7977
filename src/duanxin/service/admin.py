"""Operator actions: customers, keys, accounts, recharges, number overrides, tokens; the
channel and route actions of :mod:`duanxin.service.channels` are re-exported here.

Every change is written to the audit log with who made it, in the same transaction; a
refusal (:mod:`duanxin.service.errors`: ``NotFound``, ``Conflict``, ``Invalid``) leaves
nothing behind. API keys and operator tokens beyond the first are in service/keys.py.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.accounts import AccessType, Account, AccountState
from duanxin.domain.billing import ChargeType
from duanxin.domain.numbers import Carrier, normalise_mobile
from duanxin.domain.policy import TemplateKind
from duanxin.domain.signin import Realm
from duanxin.service import review
from duanxin.service.changes import account_named as _account
from duanxin.service.changes import changes_accounts
from duanxin.service.channels import (
    ALPHABET_PROTOCOLS,
    CHANNEL_FIELDS,
    PROTOCOLS,
    ChannelSpec,
    add_channel,
    add_route,
    check_channel_settings,
    edit_channel,
    list_channels,
    remove_channel,
    set_channel_enabled,
    update_channel_settings,
)
from duanxin.service.errors import Conflict, Invalid, NotFound
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store
from duanxin.store import console as console_store
from duanxin.store import keys as key_store
from duanxin.store import numbers as number_store

__all__ = [
    "ALPHABET_PROTOCOLS",
    "CHANNEL_FIELDS",
    "PROTOCOLS",
    "AccountSpec",
    "ApiKey",
    "ChannelSpec",
    "OpenedAccount",
    "add_channel",
    "add_route",
    "changes_accounts",
    "check_channel_settings",
    "create_account",
    "create_customer",
    "create_operator_token",
    "default_kind",
    "edit_channel",
    "find_account",
    "find_or_create_customer",
    "issue_api_key",
    "list_accounts",
    "list_channels",
    "open_account",
    "operator_for_token",
    "recharge",
    "remove_channel",
    "set_account",
    "set_channel_enabled",
    "set_number_override",
    "update_channel_settings",
]

_ALPHANUMERIC = string.ascii_letters + string.digits
ACCOUNT_FIELDS = frozenset(
    {
        "password",
        "spid",
        "extno",
        "charge_type",
        "refund_on_failure",
        "state",
        "access_type",
        "ip_whitelist",
        "max_concurrency",
        "template_required",
        "default_signature",
        "default_kind",
        "tps",
    }
)


def random_token(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


@dataclass(frozen=True, slots=True)
class ApiKey:
    secret_id: str
    secret_key: str


@dataclass(frozen=True, slots=True)
class AccountSpec:
    account: str
    password: str
    spid: str
    extno: str = ""
    charge_type: ChargeType = ChargeType.PRECHARGE
    balance: int = 0
    refund_on_failure: bool = False
    access_type: AccessType = AccessType.HTTP
    ip_whitelist: str = ""
    max_concurrency: int = 0
    template_required: bool = False
    default_signature: str = ""
    default_kind: TemplateKind | None = None  # of content matching no template
    tps: int = 0  # messages per second over every front door (0: no limit)


async def create_customer(platform: Platform, name: str, actor: str = "operator") -> int:
    now = platform.clock()
    async with platform.engine.begin() as conn:
        customer_id = await account_store.create_customer(conn, name, now)
        await account_store.write_audit(conn, actor, "customer.create", name, {}, now)
    return customer_id


async def find_or_create_customer(
    platform: Platform, name: str, actor: str = "operator"
) -> tuple[int, ApiKey | None]:
    """The customer called ``name``; a new one comes with its first API key."""
    async with platform.engine.begin() as conn:
        return await _customer(conn, platform, name, actor)


async def _customer(
    conn: AsyncConnection, platform: Platform, name: str, actor: str
) -> tuple[int, ApiKey | None]:
    found = await account_store.customer_id_for(conn, name)
    if found is not None:
        return found, None
    now = platform.clock()
    customer_id = await account_store.create_customer(conn, name, now)
    await account_store.write_audit(conn, actor, "customer.create", name, {}, now)
    return customer_id, await _issue(conn, platform, customer_id, actor)


async def issue_api_key(
    platform: Platform,
    customer_id: int,
    actor: str = "operator",
    expires_at: datetime | None = None,
) -> ApiKey:
    """A new SecretId/SecretKey pair for the customer (the key is shown once)."""
    async with platform.engine.begin() as conn:
        return await _issue(conn, platform, customer_id, actor, expires_at)


async def _issue(
    conn: AsyncConnection,
    platform: Platform,
    customer_id: int,
    actor: str,
    expires_at: datetime | None = None,
) -> ApiKey:
    key = ApiKey("AKID" + random_token(32), random_token(40))
    now = platform.clock()
    await account_store.add_api_key(
        conn, customer_id, key.secret_id, key.secret_key, now, expires_at
    )
    detail: dict[str, Any] = {"customer_id": customer_id}
    if expires_at is not None:
        detail["expires_at"] = expires_at.isoformat()
    await account_store.write_audit(conn, actor, "apikey.issue", key.secret_id, detail, now)
    return key


@dataclass(frozen=True, slots=True)
class OpenedAccount:
    """A new account; ``key`` is the customer's first API key when the customer is new."""

    account_id: int
    account: str
    customer: str
    key: ApiKey | None


@changes_accounts
async def open_account(
    platform: Platform, customer: str, spec: AccountSpec, actor: str = "operator"
) -> OpenedAccount:
    """The customer (created, with its first API key, if new) and the account, in one
    transaction: a refused account (``Conflict`` for a taken name) leaves nothing."""
    _checked_spec(spec)
    try:
        async with platform.engine.begin() as conn:
            if await account_store.account_exists(conn, spec.account):
                raise Conflict(f"account {spec.account!r} already exists")
            customer_id, key = await _customer(conn, platform, customer, actor)
            account_id = await _create_account(conn, platform, customer_id, spec, actor)
    except IntegrityError:  # created meanwhile by another process: rolled back whole
        raise Conflict(f"account {spec.account!r} or customer {customer!r} exists") from None
    return OpenedAccount(account_id, spec.account, customer, key)


@changes_accounts
async def create_account(
    platform: Platform, customer_id: int, spec: AccountSpec, actor: str = "operator"
) -> int:
    """A new account of an existing customer (``Conflict`` if the name is taken)."""
    _checked_spec(spec)
    try:
        async with platform.engine.begin() as conn:
            if await account_store.account_exists(conn, spec.account):
                raise Conflict(f"account {spec.account!r} already exists")
            return await _create_account(conn, platform, customer_id, spec, actor)
    except IntegrityError:
        raise Conflict(f"account {spec.account!r} already exists") from None


def _checked_spec(spec: AccountSpec) -> None:
    if not spec.account.strip() or not spec.password:
        raise Invalid("account and password are required", "account")
    _checked_changes({"spid": spec.spid, "extno": spec.extno})


async def _create_account(
    conn: AsyncConnection,
    platform: Platform,
    customer_id: int,
    spec: AccountSpec,
    actor: str,
) -> int:
    now = platform.clock()
    values = {
        "customer_id": customer_id,
        "account": spec.account,
        "password": spec.password,
        "spid": spec.spid,
        "extno": spec.extno,
        "charge_type": spec.charge_type.value,
        "balance": spec.balance,
        "refund_on_failure": spec.refund_on_failure,
        "state": AccountState.ACTIVE.value,
        "access_type": spec.access_type.value,
        "ip_whitelist": spec.ip_whitelist,
        "max_concurrency": spec.max_concurrency,
        "template_required": spec.template_required,
        "default_signature": "",
        "default_kind": spec.default_kind.value if spec.default_kind else None,
        "tps": spec.tps,
    }
    account_id = await account_store.create_account(conn, values, now)
    await account_store.write_audit(
        conn, actor, "account.create", spec.account, {"customer_id": customer_id}, now
    )
    if spec.default_signature:
        # The operator choosing an account's default signature approves it.
        signature = await review.signature_on_create(
            conn, account_id, spec.account, spec.default_signature, actor, now
        )
        await account_store.update_account(conn, account_id, {"default_signature": signature})
    return account_id


@changes_accounts
async def set_account(
    platform: Platform, account: str, changes: Mapping[str, Any], actor: str = "operator"
) -> Account:
    """Change account settings (state, charge type, whitelist ...)."""
    unknown = set(changes) - ACCOUNT_FIELDS
    if unknown:
        raise Invalid(f"unknown account fields: {', '.join(sorted(unknown))}")
    changes = _checked_changes(changes)
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        if "default_signature" in changes:
            changes["default_signature"] = await review.approved_default(
                conn, found.id, changes["default_signature"]
            )
        await account_store.update_account(conn, found.id, changes)
        shown = {k: ("***" if k == "password" else v) for k, v in changes.items()}
        if "password" in changes or changes.get("state") == AccountState.DISABLED.value:
            # The customer's console sessions end with the password they were opened with.
            ended = await console_store.delete_sessions_of(conn, Realm.CUSTOMER.value, account)
            shown["sessions_ended"] = ended
        await account_store.write_audit(conn, actor, "account.set", account, shown, now)
        updated = await account_store.get_account_by_id(conn, found.id)
    assert updated is not None
    platform.policy.invalidate_account(found.id)
    return updated


_TYPES: dict[str, type | tuple[type, ...]] = {
    "password": str,
    "spid": str,
    "extno": str,
    "refund_on_failure": bool,
    "ip_whitelist": str,
    "template_required": bool,
    "default_signature": str,
}


def _checked_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    """Account changes with their values checked and in stored form; ValueError if bad."""
    checked: dict[str, Any] = {}
    for name, value in changes.items():
        try:
            checked[name] = _checked_value(name, value)
        except Invalid:
            raise
        except ValueError as error:
            raise Invalid(f"{name}: {error}", name) from None
    return checked


_ENUMS: dict[str, type[AccountState] | type[AccessType] | type[ChargeType]] = {
    "state": AccountState,
    "access_type": AccessType,
    "charge_type": ChargeType,
}


def _checked_value(name: str, value: Any) -> Any:
    if name == "access_type":  # one interface or a set of them, in any order
        try:
            return AccessType(value).value
        except ValueError:
            names = ", ".join(member.value for member in AccessType)
            raise Invalid(f"access_type must be one of {names}", name) from None
    if name in _ENUMS:
        choices = [member.value for member in _ENUMS[name]]
        if value not in choices:
            raise Invalid(f"{name} must be one of {', '.join(choices)}", name)
        return value
    if name == "default_kind":
        kind = default_kind(value)
        return kind.value if kind else None
    if name in ("max_concurrency", "tps"):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Invalid(f"{name} must be a whole number >= 0 (0: unlimited)", name)
        return value
    if _TYPES[name] is str and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # digits typed on a command line: a password, spid or extno
    elif not isinstance(value, _TYPES[name]):
        raise Invalid(f"{name} must be a {getattr(_TYPES[name], '__name__', 'value')}", name)
    if name == "ip_whitelist":
        value = _whitelist(value)
    if name in ("extno", "spid") and value and not (value.isdigit() and value.isascii()):
        raise Invalid(f"{name} must be digits", name)
    return value


def default_kind(value: object) -> TemplateKind | None:
    """An account's default kind as given (a kind's name; None, "" or "none": no default)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null")):
        return None
    try:
        return TemplateKind(str(value).strip().lower())
    except ValueError:
        kinds = ", ".join(kind.value for kind in TemplateKind)
        raise ValueError(f"default_kind must be one of {kinds}, or null") from None


def _whitelist(text: str) -> str:
    """A whitelist of addresses and CIDR networks (IPv4 or IPv6), comma-separated."""
    entries = [e.strip() for e in text.replace(";", ",").split(",") if e.strip()]
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise ValueError(f"ip_whitelist entry {entry!r} is not an address or network") from None
    return ",".join(entries)


@changes_accounts
async def recharge(
    platform: Platform, account: str, amount: int, actor: str = "operator", note: str = ""
) -> int:
    """Add ``amount`` units (negative to deduct); returns the new balance."""
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
            raise Invalid("amount must be a whole number of units, not 0", "amount")
        balance = await account_store.adjust_balance(
            conn, found.id, amount, "recharge", note or actor, now
        )
        await account_store.write_audit(
            conn, actor, "account.recharge", account, {"amount": amount, "balance": balance}, now
        )
    return balance


@changes_accounts
async def set_number_override(
    platform: Platform, mobile: str, carrier: str | None, actor: str = "operator"
) -> None:
    """Route ``mobile`` as ``carrier`` whatever its segment says (None: forget it)."""
    number = normalise_mobile(mobile)
    if number is None:
        raise Invalid(f"{mobile!r} is not a mainland mobile number", "mobile")
    try:
        network = None if carrier is None else Carrier(carrier)
    except ValueError:
        choices = ", ".join(c.value for c in Carrier)
        raise Invalid(f"carrier must be one of {choices}, or none", "carrier") from None
    now = platform.clock()
    async with platform.engine.begin() as conn:
        await number_store.set_override(conn, number, None if network is None else network.value)
        await account_store.write_audit(
            conn, actor, "number.override", number, {"carrier": carrier}, now
        )


async def list_accounts(platform: Platform) -> list[Account]:
    """Every account, oldest first."""
    async with platform.engine.connect() as conn:
        return await account_store.list_accounts(conn)


async def find_account(platform: Platform, account: str) -> Account:
    """The named account; raises LookupError when there is none."""
    async with platform.engine.connect() as conn:
        found = await account_store.find_account(conn, account)
    if found is None:
        raise NotFound(f"no account {account!r}")
    return found


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def operator_for_token(platform: Platform, token: str) -> str | None:
    """The name of the operator a token was issued to, or None for an unknown token."""
    async with platform.engine.connect() as conn:
        return await account_store.operator_for_token(conn, _token_hash(token))


async def create_operator_token(platform: Platform, name: str = "operator") -> str:
    """A new operator token (printed once; only its hash is stored)."""
    token = "dxop_" + random_token(40)
    async with platform.engine.begin() as conn:
        await key_store.store_token(conn, _token_hash(token), name, platform.clock())
        await account_store.write_audit(conn, "cli", "token.create", name, {}, platform.clock())
    return token
