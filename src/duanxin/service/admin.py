"""Operator actions: customers, keys, accounts, channels, routes, recharges, tokens.

Every change is written to the audit log with who made it, in the same transaction; a
refusal (:mod:`duanxin.service.errors`: ``NotFound``, ``Conflict``, ``Invalid``) leaves
nothing behind. API keys and operator tokens beyond the first are in service/keys.py.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import secrets
import string
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.accounts import AccessType, Account, AccountState
from duanxin.domain.billing import ChargeType
from duanxin.domain.encoding import Alphabet
from duanxin.domain.numbers import Carrier, normalise_mobile
from duanxin.domain.policy import TemplateKind
from duanxin.domain.reports import LongReport
from duanxin.service import review
from duanxin.service.errors import Conflict, Invalid, NotFound
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store
from duanxin.store import channels as channel_store
from duanxin.store import keys as key_store
from duanxin.store import numbers as number_store

__all__ = [
    "CHANNEL_FIELDS",
    "PROTOCOLS",
    "AccountSpec",
    "ApiKey",
    "ChannelSpec",
    "OpenedAccount",
    "add_channel",
    "add_route",
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
    }
)


P = ParamSpec("P")
R = TypeVar("R")


def changes_accounts(action: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Mark an operator action whose effect requests must see at once in this process."""

    @functools.wraps(action)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        result = await action(*args, **kwargs)
        platform = args[0] if args else kwargs["platform"]
        assert isinstance(platform, Platform)
        platform.forget_cached()
        return result

    return run


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


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str
    protocol: str
    host: str
    port: int
    account: str
    password: str
    access_code: str
    service_id: str = ""
    sp_code: str = ""
    version: int | None = None
    window: int = 16
    tps: int = 0
    long_report: LongReport = LongReport.ALL
    settings: Mapping[str, Any] | None = None
    max_connections: int = 1  # SGIP channels always use one (the gateway connects back)


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
    async with platform.engine.begin() as conn:
        if await account_store.account_exists(conn, spec.account):
            raise Conflict(f"account {spec.account!r} already exists")
        customer_id, key = await _customer(conn, platform, customer, actor)
        account_id = await _create_account(conn, platform, customer_id, spec, actor)
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


async def _account(conn: AsyncConnection, account: str) -> Account:
    found = await account_store.find_account(conn, account)
    if found is None:
        raise NotFound(f"no account {account!r}")
    return found


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
    if name in _ENUMS:
        choices = [member.value for member in _ENUMS[name]]
        if value not in choices:
            raise Invalid(f"{name} must be one of {', '.join(choices)}", name)
        return value
    if name == "default_kind":
        kind = default_kind(value)
        return kind.value if kind else None
    if name == "max_concurrency":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise Invalid("max_concurrency must be a whole number >= 0 (0: unlimited)", name)
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


#: Protocols whose coding 0 is the carrier's choice (the others' is ASCII by their specs).
ALPHABET_PROTOCOLS = frozenset({"smpp"})


def check_channel_settings(protocol: str, settings: Mapping[str, Any]) -> dict[str, Any]:
    """The ``settings`` JSON to store for a ``protocol`` channel; ValueError when invalid.

    ``alphabet`` (``ascii``, ``gsm7``, ``latin1``) is what an SMPP carrier takes
    data_coding 0 to be; other protocols' coding 0 is ASCII, so only ``ascii`` fits them.
    """
    checked = dict(settings)
    if "alphabet" not in checked:
        return checked
    try:
        alphabet = Alphabet(checked["alphabet"])
    except ValueError:
        choices = ", ".join(a.value for a in Alphabet)
        raise ValueError(f"alphabet must be one of {choices}") from None
    if alphabet is not Alphabet.ASCII and protocol not in ALPHABET_PROTOCOLS:
        raise ValueError(f"alphabet {alphabet.value} is for SMPP channels; {protocol} sends ASCII")
    checked["alphabet"] = alphabet.value
    return checked


#: The carrier protocols a channel can speak.
PROTOCOLS = ("cmpp", "sgip", "smgp", "smpp")
#: What ``edit_channel`` may change.
CHANNEL_FIELDS = frozenset(
    {
        "host",
        "port",
        "account",
        "password",
        "access_code",
        "service_id",
        "sp_code",
        "version",
        "window",
        "tps",
        "long_report",
        "max_connections",
        "settings",
    }
)
CMPP_VERSIONS = (32, 48)


def _checked_channel(values: Mapping[str, Any]) -> dict[str, Any]:
    """Channel values checked, in stored form; Invalid naming the field otherwise."""
    checked = dict(values)
    protocol = checked.get("protocol")
    if protocol is not None and protocol not in PROTOCOLS:
        raise Invalid(f"protocol must be one of {', '.join(PROTOCOLS)}", "protocol")
    port = checked.get("port")
    if port is not None and not 0 < port < 65536:
        raise Invalid("port must be 1 to 65535", "port")
    for name in ("window", "max_connections"):
        if name in checked and checked[name] < 1:
            raise Invalid(f"{name} must be at least 1", name)
    if "tps" in checked and checked["tps"] < 0:
        raise Invalid("tps must be 0 (unlimited) or more", "tps")
    version = checked.get("version")
    if version is not None and protocol in (None, "cmpp") and version not in CMPP_VERSIONS:
        raise Invalid("version must be 32 (CMPP 2.0) or 48 (CMPP 3.0)", "version")
    if isinstance(checked.get("long_report"), LongReport):
        checked["long_report"] = checked["long_report"].value
    for name in ("host", "account", "access_code"):
        if name in checked and not str(checked[name]).strip():
            raise Invalid(f"{name} is required", name)
    return checked


@changes_accounts
async def add_channel(platform: Platform, spec: ChannelSpec, actor: str = "operator") -> int:
    """A new carrier channel (``Conflict`` if the name is taken)."""
    now = platform.clock()
    try:
        settings = check_channel_settings(spec.protocol, spec.settings or {})
    except ValueError as error:
        raise Invalid(str(error), "settings") from None
    values = _checked_channel(
        {
            "name": spec.name,
            "protocol": spec.protocol,
            "host": spec.host,
            "port": spec.port,
            "account": spec.account,
            "password": spec.password,
            "access_code": spec.access_code,
            "service_id": spec.service_id,
            "sp_code": spec.sp_code,
            "version": spec.version,
            "window": spec.window,
            "tps": spec.tps,
            "max_connections": spec.max_connections,
            "long_report": spec.long_report,
            "enabled": True,
            "settings": settings,
            "created_at": now,
        }
    )
    if not spec.name.strip():
        raise Invalid("name is required", "name")
    try:
        async with platform.engine.begin() as conn:
            if await channel_store.find_channel(conn, spec.name) is not None:
                raise Conflict(f"channel {spec.name!r} already exists")
            channel_id = await channel_store.insert_channel(conn, values)
            await account_store.write_audit(
                conn, actor, "channel.add", spec.name, {"protocol": spec.protocol}, now
            )
    except IntegrityError:
        raise Conflict(f"channel {spec.name!r} already exists") from None
    return channel_id


async def _channel(conn: AsyncConnection, name: str) -> dict[str, Any]:
    found = await channel_store.find_channel(conn, name)
    if found is None:
        raise NotFound(f"no channel {name!r}")
    return found


@changes_accounts
async def edit_channel(
    platform: Platform, name: str, changes: Mapping[str, Any], actor: str = "operator"
) -> dict[str, Any]:
    """Change a channel's fields (``settings`` merged into the stored ones); the running
    pool uses them once restarted. Returns the channel as listed (no password)."""
    unknown = set(changes) - CHANNEL_FIELDS
    if unknown:
        raise Invalid(f"unknown channel fields: {', '.join(sorted(unknown))}")
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _channel(conn, name)
        values = _checked_channel(changes)
        if "settings" in values:
            merged = {**(found["settings"] or {}), **(values["settings"] or {})}
            try:
                values["settings"] = check_channel_settings(found["protocol"], merged)
            except ValueError as error:
                raise Invalid(str(error), "settings") from None
        if values:
            await channel_store.update_channel(conn, name, values)
        shown = {k: ("***" if k == "password" else v) for k, v in values.items()}
        await account_store.write_audit(conn, actor, "channel.edit", name, shown, now)
        updated = await channel_store.find_channel(conn, name)
    assert updated is not None
    updated.pop("password")
    return updated


@changes_accounts
async def update_channel_settings(
    platform: Platform, name: str, changes: Mapping[str, Any], actor: str = "operator"
) -> dict[str, Any]:
    """Merge ``changes`` into a channel's ``settings``; the running pool sees them on restart."""
    edited = await edit_channel(platform, name, {"settings": dict(changes)}, actor)
    return dict(edited["settings"])


@changes_accounts
async def remove_channel(platform: Platform, name: str, actor: str = "operator") -> None:
    """Remove a channel and the routes over it; one that carried messages must stay
    (``Conflict``: disable it instead)."""
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _channel(conn, name)
        if await channel_store.channel_in_use(conn, found["id"]):
            raise Conflict(f"channel {name!r} has carried messages: disable it instead")
        await channel_store.delete_channel(conn, found["id"])
        await account_store.write_audit(conn, actor, "channel.remove", name, {}, now)


async def list_channels(platform: Platform) -> list[dict[str, Any]]:
    """Every channel, oldest first, without its password."""
    async with platform.engine.connect() as conn:
        return await channel_store.list_channels(conn)


@changes_accounts
async def set_channel_enabled(
    platform: Platform, name: str, enabled: bool, actor: str = "operator"
) -> None:
    now = platform.clock()
    async with platform.engine.begin() as conn:
        if not await channel_store.set_enabled(conn, name, enabled):
            raise NotFound(f"no channel {name!r}")
        await account_store.write_audit(
            conn, actor, "channel.enable" if enabled else "channel.disable", name, {}, now
        )


@changes_accounts
async def add_route(
    platform: Platform,
    account: str,
    carrier: str,
    channel_names: Sequence[str],
    actor: str = "operator",
) -> None:
    """Set the account's ordered channel list for ``carrier`` (replacing the old one)."""
    try:
        network = Carrier(carrier)
    except ValueError:
        choices = ", ".join(c.value for c in Carrier)
        raise Invalid(f"carrier must be one of {choices}", "carrier") from None
    if len(set(channel_names)) != len(channel_names):
        raise Invalid("a channel is named twice", "channels")
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        ids = await channel_store.channel_ids(conn, channel_names)
        missing = [name for name in channel_names if name not in ids]
        if missing:
            raise NotFound(f"no channel {missing[0]!r}")
        await channel_store.replace_route(
            conn, found.id, network.value, [ids[name] for name in channel_names]
        )
        await account_store.write_audit(
            conn,
            actor,
            "route.set",
            account,
            {"carrier": network.value, "channels": list(channel_names)},
            now,
        )


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
