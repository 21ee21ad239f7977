"""What operator actions share: refreshing this process's caches after a change, and the
account an action names."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.accounts import Account
from duanxin.service.errors import NotFound
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store

__all__ = ["account_named", "changes_accounts"]

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


async def account_named(conn: AsyncConnection, account: str) -> Account:
    """The account called ``account`` (``NotFound`` otherwise)."""
    found = await account_store.find_account(conn, account)
    if found is None:
        raise NotFound(f"no account {account!r}")
    return found
