"""Finding and checking the account a request names (SPEC 2.2)."""

from __future__ import annotations

from dataclasses import dataclass

from duanxin.domain.accounts import Account, Interface, check_account
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store

__all__ = ["Caller", "authenticate"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling, as the front door established it."""

    interface: Interface
    ip: str | None = None
    customer_id: int | None = None  # from the API key; None when gateway auth is off


async def authenticate(platform: Platform, account: str, password: str, caller: Caller) -> Account:
    """The named account, once SPEC 2.2's checks pass; raises StatusError otherwise."""
    async with platform.reader.connect() as conn:
        found = await account_store.find_account(conn, account) if account else None
    return check_account(
        found,
        password,
        customer_id=caller.customer_id,
        ip=caller.ip,
        interface=caller.interface,
    )
