"""Operator actions on carrier channels and routes: add (protocol and settings checked),
edit, remove, enable and disable channels; set an account's routes. Each is audited in the
same transaction; a refusal (``NotFound``, ``Conflict``, ``Invalid``) changes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.encoding import Alphabet
from duanxin.domain.numbers import Carrier
from duanxin.domain.reports import LongReport
from duanxin.service.changes import account_named, changes_accounts
from duanxin.service.errors import Conflict, Invalid, NotFound
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store
from duanxin.store import channels as channel_store

__all__ = [
    "ALPHABET_PROTOCOLS",
    "CHANNEL_FIELDS",
    "PROTOCOLS",
    "ChannelSpec",
    "RouteRow",
    "add_channel",
    "add_route",
    "check_channel_settings",
    "edit_channel",
    "list_channels",
    "list_routes",
    "remove_channel",
    "set_channel_enabled",
    "update_channel_settings",
]


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
        found = await account_named(conn, account)
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


@dataclass(frozen=True, slots=True)
class RouteRow:
    """One channel of an account's route for a carrier (``priority`` 0 is tried first)."""

    account: str
    carrier: str
    priority: int
    channel: str
    channel_enabled: bool


async def list_routes(platform: Platform) -> list[RouteRow]:
    """Every route, by account, carrier and priority (over disabled channels too)."""
    async with platform.engine.connect() as conn:
        return [RouteRow(*row) for row in await channel_store.all_routes(conn)]
