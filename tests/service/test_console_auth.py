"""Console sign-in on SQLite and PostgreSQL: hashed passwords, sessions, throttling, audit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from duanxin.config import Settings
from duanxin.domain.signin import Realm, SignInLimits, SignInRefusal
from duanxin.service import admin, console_auth, lists
from duanxin.service.platform import Platform
from duanxin.store.engine import migrate
from duanxin.store.tables import operator_users

START = datetime(2026, 12, 1, 9, 0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def platform(database_url: str) -> AsyncIterator[Platform]:
    await asyncio.to_thread(migrate, database_url)
    platform = Platform.open(Settings(database_url=database_url))
    platform.clock = Clock()
    try:
        yield platform
    finally:
        await platform.close()


async def test_an_operator_signs_in_with_the_password_stored_only_as_a_hash(
    platform: Platform,
) -> None:
    await console_auth.add_operator(platform, "alice", "correct horse")
    async with platform.engine.connect() as conn:
        stored = (await conn.execute(select(operator_users.c.password_hash))).scalar_one()
    assert stored.startswith("$argon2") and "correct horse" not in stored
    outcome = await console_auth.sign_in(
        platform, Realm.OPERATOR, "alice", "correct horse", "10.0.0.1"
    )
    assert outcome.session is not None and outcome.token is not None
    session = await console_auth.session_for(platform, Realm.OPERATOR, outcome.token)
    assert session is not None and session.subject == "alice"
    assert console_auth.csrf_matches(session, session.csrf)
    assert not console_auth.csrf_matches(session, "") and not console_auth.csrf_matches(
        session, "x"
    )
    # An operator's session opens no customer pages, and a sign-out ends it.
    assert await console_auth.session_for(platform, Realm.CUSTOMER, outcome.token) is None
    await console_auth.sign_out(platform, outcome.token)
    assert await console_auth.session_for(platform, Realm.OPERATOR, outcome.token) is None
    actions = [row["action"] for row in await lists.audit_list(platform, actor="alice")]
    assert actions[:2] == ["operator.signout", "operator.signin"]


async def test_sessions_expire(platform: Platform) -> None:
    await console_auth.add_operator(platform, "alice", "correct horse")
    outcome = await console_auth.sign_in(platform, Realm.OPERATOR, "alice", "correct horse", "a")
    clock = platform.clock
    assert isinstance(clock, Clock)
    clock.now += timedelta(hours=console_auth.SESSION_HOURS, seconds=1)
    assert await console_auth.session_for(platform, Realm.OPERATOR, outcome.token) is None


async def test_failures_lock_the_name_then_the_address_until_the_window_passes(
    platform: Platform,
) -> None:
    limits = SignInLimits(per_name=3, per_address=5, window=timedelta(minutes=15))
    await console_auth.add_operator(platform, "alice", "correct horse")
    await console_auth.add_operator(platform, "bob", "battery staple")

    async def attempt(name: str, password: str, address: str = "10.0.0.1") -> object:
        outcome = await console_auth.sign_in(
            platform, Realm.OPERATOR, name, password, address, limits
        )
        return outcome.refused or "ok"

    bad, throttled = SignInRefusal.BAD_CREDENTIALS, SignInRefusal.THROTTLED
    assert [await attempt("alice", "wrong") for _ in range(3)] == [bad] * 3
    assert await attempt("alice", "correct horse") == throttled
    assert await attempt("alice", "correct horse", "10.9.9.9") == throttled  # by name
    assert await attempt("bob", "battery staple") == "ok"  # another name, same address
    assert [await attempt("mallory", "x") for _ in range(2)] == [bad] * 2
    assert await attempt("bob", "battery staple") == throttled  # 5 from this address
    assert await attempt("bob", "battery staple", "10.9.9.9") == "ok"
    clock = platform.clock
    assert isinstance(clock, Clock)
    clock.now += limits.window + timedelta(seconds=1)
    assert await attempt("alice", "correct horse") == "ok"


async def test_a_customer_signs_in_with_its_account_unless_disabled(platform: Platform) -> None:
    customer = await admin.create_customer(platform, "acme")
    await admin.create_account(platform, customer, admin.AccountSpec("acme", "s3cret-pw", "1"))
    ok = await console_auth.sign_in(platform, Realm.CUSTOMER, "acme", "s3cret-pw", "a")
    assert ok.session is not None
    wrong = await console_auth.sign_in(platform, Realm.CUSTOMER, "acme", "s3cret-px", "a")
    assert wrong.refused is SignInRefusal.BAD_CREDENTIALS
    # An operator's name is not a customer's, nor the other way round.
    await console_auth.add_operator(platform, "acme2", "s3cret-pw")
    other = await console_auth.sign_in(platform, Realm.CUSTOMER, "acme2", "s3cret-pw", "a")
    assert other.refused is SignInRefusal.BAD_CREDENTIALS
    assert ok.token is not None
    assert await console_auth.session_for(platform, Realm.CUSTOMER, ok.token) is not None
    await admin.set_account(platform, "acme", {"state": "disabled"})
    off = await console_auth.sign_in(platform, Realm.CUSTOMER, "acme", "s3cret-pw", "a")
    assert off.refused is SignInRefusal.BAD_CREDENTIALS
    # Its open session ended with it; so does one opened before a password change.
    assert await console_auth.session_for(platform, Realm.CUSTOMER, ok.token) is None
    await admin.set_account(platform, "acme", {"state": "active"})
    again = await console_auth.sign_in(platform, Realm.CUSTOMER, "acme", "s3cret-pw", "a")
    assert again.token is not None
    await admin.set_account(platform, "acme", {"password": "n3w-s3cret-pw"})
    assert await console_auth.session_for(platform, Realm.CUSTOMER, again.token) is None


async def test_a_disabled_operator_cannot_sign_in_and_its_sessions_end(
    platform: Platform,
) -> None:
    await console_auth.add_operator(platform, "alice", "correct horse")
    await console_auth.add_operator(platform, "bob", "battery staple")
    tokens = []
    for address in ("10.0.0.1", "10.0.0.2"):
        opened = await console_auth.sign_in(
            platform, Realm.OPERATOR, "bob", "battery staple", address
        )
        assert opened.token is not None
        tokens.append(opened.token)
    alice = await console_auth.sign_in(platform, Realm.OPERATOR, "alice", "correct horse", "a")
    assert alice.token is not None
    assert await console_auth.set_operator_enabled(platform, "bob", False, "alice") == 2
    for token in tokens:
        assert await console_auth.session_for(platform, Realm.OPERATOR, token) is None
    assert await console_auth.session_for(platform, Realm.OPERATOR, alice.token) is not None
    refused = await console_auth.sign_in(platform, Realm.OPERATOR, "bob", "battery staple", "b")
    assert refused.refused is SignInRefusal.BAD_CREDENTIALS
    assert ("bob", False) in [(n, e) for n, e, _ in await console_auth.list_operators(platform)]
    with pytest.raises(ValueError, match="cannot disable itself"):
        await console_auth.set_operator_enabled(platform, "alice", False, "alice")
    with pytest.raises(LookupError):
        await console_auth.set_operator_enabled(platform, "carol", False, "alice")
    assert await console_auth.set_operator_enabled(platform, "bob", True, "alice") == 0
    back = await console_auth.sign_in(platform, Realm.OPERATOR, "bob", "battery staple", "b")
    assert back.session is not None
    audited = [r["action"] for r in await lists.audit_list(platform, 20, actor="alice")]
    assert audited[:2] == ["operator.enable", "operator.disable"]


async def test_operator_names_and_passwords_are_checked(platform: Platform) -> None:
    await console_auth.add_operator(platform, "alice", "correct horse")
    with pytest.raises(ValueError, match="already exists"):
        await console_auth.add_operator(platform, "alice", "another one")
    with pytest.raises(ValueError, match="at least 8"):
        await console_auth.add_operator(platform, "bob", "short")
    with pytest.raises(ValueError, match="printable"):
        await console_auth.add_operator(platform, "", "long enough")
