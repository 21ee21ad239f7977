"""Console sign-in: operator users (argon2 password hashes), sessions, throttling.

Operators sign in with a user made by ``duanxin operator add``; customers with their
account's name and password (the one the HTTP API takes). A session is a random token in
an HttpOnly cookie; only its SHA-256 is stored, with the session's CSRF token. Failed
sign-ins are counted per name and per client address (:mod:`duanxin.domain.signin`):
past the limit a sign-in is refused without its password being looked at. Every sign-in,
refusal and sign-out is written to the audit log.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from duanxin.domain.accounts import AccountState
from duanxin.domain.signin import Realm, SignInLimits, SignInRefusal, is_throttled
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store
from duanxin.store import console as console_store

__all__ = [
    "SESSION_HOURS",
    "ConsoleSession",
    "SignInOutcome",
    "add_operator",
    "csrf_matches",
    "list_operators",
    "session_for",
    "set_operator_enabled",
    "sign_in",
    "sign_out",
]

SESSION_HOURS = 12
MIN_PASSWORD_CHARS = 8
MAX_NAME_CHARS = 64
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the name is unknown, so that the answer takes as long.

    Made on first use, not at import: every CLI command imports this module.
    """
    return _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    realm: Realm
    subject: str  # the operator's name, or the customer's account name
    csrf: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SignInOutcome:
    """A session and its cookie token, or why there is none."""

    session: ConsoleSession | None = None
    token: str | None = None
    refused: SignInRefusal | None = None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def add_operator(platform: Platform, name: str, password: str, actor: str = "cli") -> None:
    """A new operator user; ValueError for a taken name or a short password."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise ValueError(f"operator name must be 1 to {MAX_NAME_CHARS} printable characters")
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    now = platform.clock()
    async with platform.engine.begin() as conn:
        if await console_store.find_operator_user(conn, name) is not None:
            raise ValueError(f"operator {name!r} already exists")
        await console_store.add_operator_user(conn, name, _hasher.hash(password), now)
        await account_store.write_audit(conn, actor, "operator.add", name, {}, now)


async def list_operators(platform: Platform) -> list[tuple[str, bool, datetime]]:
    async with platform.engine.connect() as conn:
        rows = await console_store.list_operator_users(conn)
    return [(r["name"], bool(r["enabled"]), r["created_at"]) for r in rows]


async def set_operator_enabled(
    platform: Platform, name: str, enabled: bool, actor: str = "cli"
) -> int:
    """Enable or disable an operator user. A disabled one cannot sign in and its sessions
    end at once (the answer: how many did). LookupError for an unknown name; ValueError
    for an operator disabling itself (in the console: it would lock itself out)."""
    if not enabled and actor == name:
        raise ValueError("an operator cannot disable itself; another operator (or the CLI) can")
    now = platform.clock()
    async with platform.engine.begin() as conn:
        if not await console_store.set_operator_enabled(conn, name, enabled):
            raise LookupError(f"no operator named {name}")
        ended = 0
        if not enabled:
            ended = await console_store.delete_sessions_of(conn, Realm.OPERATOR.value, name)
        action = "operator.enable" if enabled else "operator.disable"
        await account_store.write_audit(conn, actor, action, name, {"sessions_ended": ended}, now)
    return ended


def _operator_password_ok(password_hash: str | None, password: str) -> bool:
    try:
        return (
            _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
        )
    except (VerificationError, InvalidHashError):
        return False


async def _credentials_ok(platform: Platform, realm: Realm, name: str, password: str) -> bool:
    async with platform.engine.connect() as conn:
        if realm is Realm.OPERATOR:
            row = await console_store.find_operator_user(conn, name)
            stored = row["password_hash"] if row is not None and row["enabled"] else None
            return _operator_password_ok(stored, password)
        account = await account_store.find_account(conn, name)
    if account is None or account.state is AccountState.DISABLED:
        hmac.compare_digest(b"-", password.encode("utf-8", "surrogatepass"))
        return False
    return hmac.compare_digest(
        account.password.encode("utf-8", "surrogatepass"),
        password.encode("utf-8", "surrogatepass"),
    )


async def sign_in(
    platform: Platform,
    realm: Realm,
    name: str,
    password: str,
    address: str,
    limits: SignInLimits | None = None,
) -> SignInOutcome:
    """Check a sign-in; a good one opens a session of ``SESSION_HOURS``."""
    limits = limits or SignInLimits()
    name = name.strip()[:MAX_NAME_CHARS]
    now = platform.clock()
    async with platform.engine.connect() as conn:
        failures = await console_store.count_failures(
            conn, realm.value, name, address, now - limits.window
        )
    actor = name or "-"
    if is_throttled(*failures, limits):
        async with platform.engine.begin() as conn:
            await account_store.write_audit(
                conn, actor, f"{realm.value}.signin_throttled", name, {"address": address}, now
            )
        return SignInOutcome(refused=SignInRefusal.THROTTLED)
    if not name or not await _credentials_ok(platform, realm, name, password):
        async with platform.engine.begin() as conn:
            await console_store.record_failure(conn, realm.value, name, address, now)
            await account_store.write_audit(
                conn, actor, f"{realm.value}.signin_failed", name, {"address": address}, now
            )
        return SignInOutcome(refused=SignInRefusal.BAD_CREDENTIALS)
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session = ConsoleSession(realm, name, csrf, now + timedelta(hours=SESSION_HOURS))
    async with platform.engine.begin() as conn:
        await console_store.insert_session(
            conn, _token_hash(token), realm.value, name, csrf, now, session.expires_at
        )
        await console_store.forget_failures(conn, realm.value, name, now - limits.window)
        await console_store.expire_sessions(conn, now)
        await account_store.write_audit(
            conn, name, f"{realm.value}.signin", name, {"address": address}, now
        )
    return SignInOutcome(session=session, token=token)


async def session_for(platform: Platform, realm: Realm, token: str | None) -> ConsoleSession | None:
    """The live session of ``realm`` a cookie's token opens, or None."""
    if not token:
        return None
    async with platform.engine.connect() as conn:
        row = await console_store.find_session(
            conn, _token_hash(token), realm.value, platform.clock()
        )
    if row is None:
        return None
    return ConsoleSession(realm, row["subject"], row["csrf"], row["expires_at"])


async def sign_out(platform: Platform, token: str | None) -> None:
    """End the session (nothing happens for an unknown token)."""
    if not token:
        return
    now = platform.clock()
    async with platform.engine.begin() as conn:
        row = await console_store.delete_session(conn, _token_hash(token))
        if row is not None:
            await account_store.write_audit(
                conn, row["subject"], f"{row['realm']}.signout", row["subject"], {}, now
            )


def csrf_matches(session: ConsoleSession, given: str | None) -> bool:
    """Whether a form's CSRF token is the session's (compared in constant time)."""
    return bool(given) and hmac.compare_digest(session.csrf.encode(), (given or "").encode())
