"""Operator actions: customers, keys, accounts, channels, routes, recharges, tokens.

Every change is written to the audit log with who made it, in the same transaction.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import secrets
import string
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.accounts import AccessType, Account, AccountState
from duanxin.domain.billing import ChargeType
from duanxin.domain.encoding import Alphabet
from duanxin.domain.numbers import Carrier, normalise_mobile
from duanxin.domain.policy import TemplateKind
from duanxin.domain.reports import LongReport
from duanxin.service import review
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store
from duanxin.store import numbers as number_store
from duanxin.store.tables import channels, customers, operator_tokens, routes

__all__ = [
    "AccountSpec",
    "ApiKey",
    "ChannelSpec",
    "add_channel",
    "add_route",
    "check_channel_settings",
    "create_account",
    "create_customer",
    "create_operator_token",
    "default_kind",
    "find_account",
    "find_or_create_customer",
    "issue_api_key",
    "list_accounts",
    "list_channels",
    "operator_for_token",
    "recharge",
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
    tps: int = 0  # messages per second over every front door (0: no limit)


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
    async with platform.engine.connect() as conn:
        row = (await conn.execute(select(customers.c.id).where(customers.c.name == name))).first()
    if row is not None:
        return int(row[0]), None
    customer_id = await create_customer(platform, name, actor)
    return customer_id, await issue_api_key(platform, customer_id, actor)


async def issue_api_key(platform: Platform, customer_id: int, actor: str = "operator") -> ApiKey:
    """A new SecretId/SecretKey pair for the customer (the key is shown once)."""
    key = ApiKey("AKID" + random_token(32), random_token(40))
    now = platform.clock()
    async with platform.engine.begin() as conn:
        await account_store.add_api_key(conn, customer_id, key.secret_id, key.secret_key, now)
        await account_store.write_audit(
            conn, actor, "apikey.issue", key.secret_id, {"customer_id": customer_id}, now
        )
    return key


@changes_accounts
async def create_account(
    platform: Platform, customer_id: int, spec: AccountSpec, actor: str = "operator"
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
    async with platform.engine.begin() as conn:
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
        raise LookupError(f"no account {account!r}")
    return found


@changes_accounts
async def set_account(
    platform: Platform, account: str, changes: Mapping[str, Any], actor: str = "operator"
) -> Account:
    """Change account settings (state, charge type, whitelist ...)."""
    unknown = set(changes) - ACCOUNT_FIELDS
    if unknown:
        raise ValueError(f"unknown account fields: {', '.join(sorted(unknown))}")
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
        if name == "state":
            value = AccountState(value).value
        elif name == "access_type":
            value = AccessType(value).value
        elif name == "charge_type":
            value = ChargeType(value).value
        elif name == "default_kind":
            kind = default_kind(value)
            value = kind.value if kind else None
        elif name in ("max_concurrency", "tps"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a whole number >= 0 (0: unlimited)")
        elif _TYPES[name] is str and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # digits typed on a command line: a password, spid or extno
        elif not isinstance(value, _TYPES[name]):
            raise ValueError(f"{name} must be a {getattr(_TYPES[name], '__name__', 'value')}")
        if name == "ip_whitelist":
            value = _whitelist(value)
        if name == "extno" and value and not (value.isdigit() and value.isascii()):
            raise ValueError("extno must be digits")
        checked[name] = value
    return checked


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


@changes_accounts
async def add_channel(platform: Platform, spec: ChannelSpec, actor: str = "operator") -> int:
    now = platform.clock()
    settings = check_channel_settings(spec.protocol, spec.settings or {})
    async with platform.engine.begin() as conn:
        result = await conn.execute(
            channels.insert()
            .values(
                name=spec.name,
                protocol=spec.protocol,
                host=spec.host,
                port=spec.port,
                account=spec.account,
                password=spec.password,
                access_code=spec.access_code,
                service_id=spec.service_id,
                sp_code=spec.sp_code,
                version=spec.version,
                window=spec.window,
                tps=spec.tps,
                max_connections=spec.max_connections,
                long_report=spec.long_report.value,
                enabled=True,
                settings=settings,
                created_at=now,
            )
            .returning(channels.c.id)
        )
        channel_id = int(result.scalar_one())
        await account_store.write_audit(
            conn, actor, "channel.add", spec.name, {"protocol": spec.protocol}, now
        )
    return channel_id


@changes_accounts
async def update_channel_settings(
    platform: Platform, name: str, changes: Mapping[str, Any], actor: str = "operator"
) -> dict[str, Any]:
    """Merge ``changes`` into a channel's ``settings``; the running pool sees them on restart."""
    now = platform.clock()
    async with platform.engine.begin() as conn:
        row = (
            await conn.execute(
                select(channels.c.protocol, channels.c.settings).where(channels.c.name == name)
            )
        ).first()
        if row is None:
            raise LookupError(f"no channel {name!r}")
        settings = check_channel_settings(row.protocol, {**(row.settings or {}), **changes})
        await conn.execute(
            update(channels).where(channels.c.name == name).values(settings=settings)
        )
        await account_store.write_audit(conn, actor, "channel.edit", name, dict(changes), now)
    return settings


async def list_channels(platform: Platform) -> list[dict[str, Any]]:
    async with platform.engine.connect() as conn:
        rows = (await conn.execute(select(channels).order_by(channels.c.id))).mappings()
        return [{k: v for k, v in row.items() if k != "password"} for row in rows]


@changes_accounts
async def set_channel_enabled(
    platform: Platform, name: str, enabled: bool, actor: str = "operator"
) -> None:
    now = platform.clock()
    async with platform.engine.begin() as conn:
        result = await conn.execute(
            update(channels).where(channels.c.name == name).values(enabled=enabled)
        )
        if not result.rowcount:
            raise LookupError(f"no channel {name!r}")
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
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        ids = []
        for name in channel_names:
            row = (await conn.execute(select(channels.c.id).where(channels.c.name == name))).first()
            if row is None:
                raise LookupError(f"no channel {name!r}")
            ids.append(row[0])
        await conn.execute(
            delete(routes).where(routes.c.account_id == found.id, routes.c.carrier == carrier)
        )
        for priority, channel_id in enumerate(ids):
            await conn.execute(
                routes.insert().values(
                    account_id=found.id, carrier=carrier, priority=priority, channel_id=channel_id
                )
            )
        await account_store.write_audit(
            conn,
            actor,
            "route.set",
            account,
            {"carrier": carrier, "channels": list(channel_names)},
            now,
        )


@changes_accounts
async def set_number_override(
    platform: Platform, mobile: str, carrier: str | None, actor: str = "operator"
) -> None:
    """Route ``mobile`` as ``carrier`` whatever its segment says (None: forget it)."""
    number = normalise_mobile(mobile)
    if number is None:
        raise ValueError(f"{mobile!r} is not a mainland mobile number")
    network = None if carrier is None else Carrier(carrier)
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
        raise LookupError(f"no account {account!r}")
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
        await conn.execute(
            operator_tokens.insert().values(
                token_hash=_token_hash(token),
                name=name,
                created_at=platform.clock(),
            )
        )
        await account_store.write_audit(conn, "cli", "token.create", name, {}, platform.clock())
    return token
