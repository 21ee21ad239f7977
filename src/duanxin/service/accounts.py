"""Finding and checking the account a request names (SPEC 2.2)."""

from __future__ import annotations

from dataclasses import dataclass

from duanxin.domain.accounts import Account, AccountState, Interface, check_account
from duanxin.domain.status import Status, StatusError
from duanxin.logs import note_account
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store

__all__ = ["Caller", "api_key_secret", "authenticate", "find_signed_in"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, as the front door established it."""

    interface: Interface
    ip: str | None = None
    customer_id: int | None = None  # from the API key; None when gateway auth is off
    key_id: str | None = None  # the API key's SecretId (message history shows it)


async def api_key_secret(platform: Platform, secret_id: str) -> tuple[str, int] | None:
    """The SecretKey and customer of an API key's SecretId (cached), or None if unknown,
    revoked or expired."""

    async def load() -> account_store.KeySecret | None:
        async with platform.reader.connect() as conn:
            return await account_store.secret_for(conn, secret_id)

    found = await platform.api_keys.get(secret_id, load)
    if found is None or (found.expires_at is not None and found.expires_at <= platform.clock()):
        return None
    return found.secret_key, found.customer_id


async def authenticate(
    platform: Platform, account: str, password: str, caller: Caller, *, fresh: bool = False
) -> Account:
    """The named account, once SPEC 2.2's checks pass; raises StatusError otherwise.

    The account may come from a cache a few seconds old (its balance too: charges are
    checked against the database itself); ``fresh`` reads it from the database.
    """

    async def load() -> Account | None:
        async with platform.reader.connect() as conn:
            return await account_store.find_account(conn, account)

    if not account:
        found = None
    elif fresh:
        platform.accounts.invalidate(account)
        found = await platform.accounts.get(account, load)
    else:
        found = await platform.accounts.get(account, load)
    checked = check_account(
        found,
        password,
        customer_id=caller.customer_id,
        ip=caller.ip,
        interface=caller.interface,
    )
    note_account(checked.account)
    return checked


async def find_signed_in(platform: Platform, account: str) -> Account:
    """The account of a console session, read fresh; StatusError unless it is active."""
    async with platform.reader.connect() as conn:
        found = await account_store.find_account(conn, account)
    if found is None:
        raise StatusError(Status.WRONG_ACCOUNT)
    if found.state is not AccountState.ACTIVE:
        raise StatusError(Status.ACCOUNT_STATE, f"account is {found.state.value}")
    note_account(found.account)
    return found
