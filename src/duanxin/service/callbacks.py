"""Callback settings: the URLs an account's reports and replies are pushed to, the signing
secret (shown once, when it is made or rotated), and a signed test request.

Used the same way by the customer (``/customer/callbacks``), the operator (``/admin``) and
the CLI. A URL is ``http`` or ``https``, names a host that resolves to an address callbacks
may use (:mod:`duanxin.delivery.ssrf`; checked again at every connection), and an empty
value removes the callback. Setting a URL again also re-enables one a ``410`` disabled.
Every try to push (and every test request) is kept in a short history per account (the
newest 50 of each kind) that the customer and the operator read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from duanxin.delivery.push import Answer, post_signed
from duanxin.delivery.ssrf import AddressPolicy, AddressRefused, guarded_client, resolve_allowed
from duanxin.domain.status import Status, StatusError
from duanxin.domain.webhooks import new_message_id, new_secret
from duanxin.service.platform import Platform
from duanxin.store import accounts as account_store
from duanxin.store import callbacks as callback_store
from duanxin.store.callbacks import CallbackRow, PushOutcome
from duanxin.store.inbox import Kind

__all__ = [
    "ROTATION_OVERLAP",
    "CallbackTest",
    "CallbackView",
    "PushOutcome",
    "check_url",
    "push_history",
    "set_callbacks",
    "show_callbacks",
    "test_callback",
]

ROTATION_OVERLAP = timedelta(hours=24)  # the old secret keeps signing this long
MAX_URL = 512


@dataclass(frozen=True, slots=True)
class CallbackView:
    """An account's callbacks as anyone may see them (never the secret itself, but once)."""

    account: str
    reports_url: str
    replies_url: str
    reports_disabled: str  # why the URL is not used ("" when it is)
    replies_disabled: str
    previous_secret_until: datetime | None  # the old secret still signs until then
    secret: str | None = None  # only in the answer that made or rotated it


@dataclass(frozen=True, slots=True)
class CallbackTest:
    kind: Kind
    url: str
    outcome: str  # delivered, failed, refused, gone; "none" when no URL is set
    detail: str
    status: int | None = None  # the receiver's HTTP status, when it answered


def _view(row: CallbackRow, secret: str | None = None) -> CallbackView:
    return CallbackView(
        row.account,
        row.reports_url,
        row.replies_url,
        row.reports_disabled,
        row.replies_disabled,
        row.previous_until,
        secret,
    )


def _policy(platform: Platform) -> AddressPolicy:
    return AddressPolicy(lambda: platform.settings.push_allowed_networks)


async def check_url(platform: Platform, url: str) -> str:
    """The URL as stored (trimmed), or a StatusError (1) saying what is wrong with it."""
    url = url.strip()
    if not url:
        return ""
    if len(url) > MAX_URL or any(ord(c) < 0x21 for c in url):
        raise StatusError(Status.MALFORMED, f"a callback URL is at most {MAX_URL} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise StatusError(Status.MALFORMED, "a callback URL is http:// or https:// with a host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        await resolve_allowed(_policy(platform), parts.hostname, port)
    except AddressRefused as error:
        raise StatusError(Status.MALFORMED, str(error)) from None
    except (OSError, ValueError) as error:
        raise StatusError(Status.MALFORMED, f"cannot resolve {parts.hostname}: {error}") from None
    return url


async def set_callbacks(
    platform: Platform,
    account_id: int,
    *,
    reports_url: str | None = None,
    replies_url: str | None = None,
    rotate: bool = False,
    actor: str,
) -> CallbackView:
    """Set (``None``: leave as is; "": remove) the URLs; make the secret if there is none,
    or a new one with ``rotate`` (the old one signs alongside for 24 hours). The answer
    holds the secret only when it was just made."""
    values: dict[str, object] = {}
    if reports_url is not None:
        values.update(reports_url=await check_url(platform, reports_url), reports_disabled="")
    if replies_url is not None:
        values.update(replies_url=await check_url(platform, replies_url), replies_disabled="")
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await callback_store.find_callback(conn, account_id)
        secret: str | None = None
        if found is None:
            secret = new_secret()
            values["secret"] = secret
        elif rotate:
            secret = new_secret()
            values.update(
                secret=secret, previous_secret=found.secret, previous_until=now + ROTATION_OVERLAP
            )
        values["updated_at"] = now
        await callback_store.save_callback(conn, account_id, values)
        row = await callback_store.find_callback(conn, account_id)
        assert row is not None
        shown = {k: v for k, v in values.items() if k in ("reports_url", "replies_url")}
        await account_store.write_audit(
            conn, actor, "callback.set", row.account, {**shown, "rotated": bool(secret)}, now
        )
    return _view(row, secret)


async def show_callbacks(platform: Platform, account_id: int) -> CallbackView | None:
    async with platform.engine.connect() as conn:
        row = await callback_store.find_callback(conn, account_id)
    return None if row is None else _view(row)


async def test_callback(platform: Platform, account_id: int) -> list[CallbackTest]:
    """POST an empty, signed batch (``[]``) to each URL set; what each receiver answered."""
    async with platform.engine.connect() as conn:
        row = await callback_store.find_callback(conn, account_id)
    if row is None:
        return []
    settings = platform.settings
    client = guarded_client(
        _policy(platform), max_connections=2, timeout=settings.push_timeout_seconds
    )
    results = []
    tried: list[tuple[Kind, str, Answer]] = []
    try:
        for kind in Kind:
            url = row.reports_url if kind is Kind.REPORTS else row.replies_url
            if not url:
                results.append(CallbackTest(kind, "", "none", "no URL set"))
                continue
            secrets = row.signing_secrets(platform.clock())
            answer = await post_signed(
                client, url, secrets, new_message_id(), b"[]", settings.push_timeout_seconds
            )
            results.append(
                CallbackTest(kind, url, answer.outcome.value, answer.error or "2xx", answer.status)
            )
            tried.append((kind, url, answer))
    finally:
        await client.aclose()
    now = platform.clock()
    async with platform.engine.begin() as conn:
        for kind, url, answer in tried:
            await callback_store.record_outcome(conn, account_id, _tested(kind, url, answer, now))
    return results


def _tested(kind: Kind, url: str, answer: Answer, now: datetime) -> PushOutcome:
    return PushOutcome(
        at=now,
        kind=kind,
        url=url,
        outcome=answer.outcome.value,
        http_status=answer.status,
        error=answer.error,
        items=0,
        duration_ms=round(answer.seconds * 1000),
        attempt=0,
    )


async def push_history(platform: Platform, account_id: int) -> list[PushOutcome]:
    """The account's latest tries to push to its callback URLs (test callbacks too),
    newest first: when, which URL, the HTTP status or what went wrong, how many items,
    how long it took."""
    async with platform.engine.connect() as conn:
        return await callback_store.push_outcomes_of(conn, account_id)
