"""Signatures and templates (SPEC 2.3, 3 "Policy"; issue 4): registration and review.

Signatures and templates registered by a customer are pending until the operator approves
or rejects them (with a reason); the operator also sets default signatures. Every change is
written to the audit log (who, what, when) in the same transaction, and invalidates this
process's :class:`~duanxin.service.policy_cache.PolicyCache` (others catch up within
``policy_cache_seconds``). Bad input raises ``ValueError`` (including
:class:`~duanxin.domain.policy.PolicyError`) and an unknown account or row raises
``LookupError``: the front doors answer both as the client's error.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.accounts import Account
from duanxin.domain.policy import (
    PolicyError,
    TemplateKind,
    compile_template,
    validate_signature,
    validate_template,
)
from duanxin.store import accounts as account_store
from duanxin.store import policy as policy_store
from duanxin.store.policy import ReviewState
from duanxin.store.tables import signatures, templates

if TYPE_CHECKING:
    from duanxin.service.platform import Platform

__all__ = [
    "approve_signature",
    "approve_template",
    "approved_default",
    "list_signatures",
    "list_templates",
    "register_signature",
    "register_template",
    "reject_signature",
    "reject_template",
    "set_default_signature",
    "signature_on_create",
]

MAX_REASON_CHARS = 500


# ------------------------------------------------------------------- accounts, views


async def _account(conn: AsyncConnection, name: str) -> Account:
    found = await account_store.find_account(conn, name)
    if found is None:
        raise LookupError(f"no account {name!r}")
    return found


def _review_view(row: RowMapping, text_key: str) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": row["id"],
        "account": row["account"],
        text_key: row["text"],
        "state": row["state"],
        "reason": row["reason"],
        "created_at": row["created_at"],
        "decided_at": row["decided_at"],
        "decided_by": row["decided_by"],
    }
    if "kind" in row:
        view["kind"] = row["kind"]
    return view


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ValueError("a rejection needs a reason")
    if len(reason) > MAX_REASON_CHARS:
        raise ValueError(f"reason is longer than {MAX_REASON_CHARS} characters")
    return reason


# ------------------------------------------------------------------------ signatures


async def register_signature(platform: Platform, account: str, text: str) -> dict[str, Any]:
    """A customer submits a signature for review (again after a rejection)."""
    signature = validate_signature(text)
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        existing = await policy_store.find_signature(conn, found.id, signature)
        if existing is None:
            row_id = await policy_store.add_signature(conn, found.id, signature, now)
        else:
            row_id = int(existing["id"])
            if existing["state"] == ReviewState.REJECTED.value:
                await conn.execute(
                    update(signatures)
                    .where(signatures.c.id == row_id)
                    .values(state=ReviewState.PENDING.value, decided_at=None, decided_by=None)
                )
        if existing is None or existing["state"] == ReviewState.REJECTED.value:
            await account_store.write_audit(
                conn, account, "signature.register", f"{account} {signature}", {"id": row_id}, now
            )
        row = await policy_store.get_review(conn, signatures, row_id)
    assert row is not None
    return _review_view(row, "signature")


async def signature_on_create(
    conn: AsyncConnection, account_id: int, account: str, text: str, actor: str, now: datetime
) -> str:
    """The operator creating an account with a default signature approves that signature."""
    signature = validate_signature(text)
    row_id = await policy_store.add_signature(
        conn, account_id, signature, now, ReviewState.APPROVED
    )
    await policy_store.decide(conn, signatures, row_id, ReviewState.APPROVED, "", actor, now)
    await account_store.write_audit(
        conn, actor, "signature.approve", f"{account} {signature}", {"id": row_id}, now
    )
    return signature


async def _decide(
    platform: Platform, table: Table, row_id: int, state: ReviewState, reason: str, actor: str
) -> dict[str, Any]:
    noun = "signature" if table is signatures else "template"
    now = platform.clock()
    async with platform.engine.begin() as conn:
        row = await policy_store.get_review(conn, table, row_id)
        if row is None:
            raise LookupError(f"no {noun} {row_id}")
        if state is ReviewState.APPROVED and table is templates:
            compile_template(row_id, row["kind"], row["text"])  # PolicyError: cannot approve
        await policy_store.decide(conn, table, row_id, state, reason, actor, now)
        verb = "approve" if state is ReviewState.APPROVED else "reject"
        subject = f"{row['account']} {row['text']}"[:128]
        await account_store.write_audit(
            conn, actor, f"{noun}.{verb}", subject, {"id": row_id, "reason": reason}, now
        )
        decided = await policy_store.get_review(conn, table, row_id)
    assert decided is not None
    platform.policy.invalidate_account(int(row["account_id"]))
    return _review_view(decided, noun)


async def approve_signature(platform: Platform, row_id: int, actor: str) -> dict[str, Any]:
    return await _decide(platform, signatures, row_id, ReviewState.APPROVED, "", actor)


async def reject_signature(
    platform: Platform, row_id: int, reason: str, actor: str
) -> dict[str, Any]:
    return await _decide(platform, signatures, row_id, ReviewState.REJECTED, _reason(reason), actor)


async def _list(
    platform: Platform, table: Table, account: str | None, state: str | None
) -> list[dict[str, Any]]:
    wanted = ReviewState(state) if state else None
    async with platform.engine.connect() as conn:
        account_id = (await _account(conn, account)).id if account else None
        rows = await policy_store.list_reviews(conn, table, account_id=account_id, state=wanted)
    noun = "signature" if table is signatures else "template"
    return [_review_view(row, noun) for row in rows]


async def list_signatures(
    platform: Platform, account: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    """Signatures in id order, of one account and/or state (``pending`` for the review queue)."""
    return await _list(platform, signatures, account, state)


async def set_default_signature(
    platform: Platform, account: str, signature: str, actor: str
) -> str:
    """Set (``""``: clear) an account's default signature; it must be approved for it."""
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        canonical = await approved_default(conn, found.id, signature)
        await account_store.update_account(conn, found.id, {"default_signature": canonical})
        await account_store.write_audit(
            conn, actor, "account.default_signature", account, {"signature": canonical}, now
        )
    platform.forget_cached()
    return canonical


async def approved_default(conn: AsyncConnection, account_id: int, signature: str) -> str:
    """The canonical form of a default signature to set, refused unless approved."""
    if not signature.strip():
        return ""
    canonical = validate_signature(signature)
    row = await policy_store.find_signature(conn, account_id, canonical)
    if row is None or row["state"] != ReviewState.APPROVED.value:
        raise ValueError(f"signature {canonical} is not approved for this account")
    return canonical


# ------------------------------------------------------------------------- templates


async def register_template(
    platform: Platform, account: str, kind: str, text: str
) -> dict[str, Any]:
    """A customer submits a template; one with problems is refused at once, naming them."""
    words = await platform.policy.words(platform.engine)
    problems = validate_template(kind, text, words=words)
    if problems:
        raise PolicyError("template refused: " + "; ".join(problems))
    now = platform.clock()
    async with platform.engine.begin() as conn:
        found = await _account(conn, account)
        row_id = await policy_store.add_template(
            conn, found.id, TemplateKind(kind).value, text, now
        )
        await account_store.write_audit(
            conn, account, "template.register", account, {"id": row_id, "kind": kind}, now
        )
        row = await policy_store.get_review(conn, templates, row_id)
    assert row is not None
    return _review_view(row, "template")


async def approve_template(platform: Platform, row_id: int, actor: str) -> dict[str, Any]:
    return await _decide(platform, templates, row_id, ReviewState.APPROVED, "", actor)


async def reject_template(
    platform: Platform, row_id: int, reason: str, actor: str
) -> dict[str, Any]:
    return await _decide(platform, templates, row_id, ReviewState.REJECTED, _reason(reason), actor)


async def list_templates(
    platform: Platform, account: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    return await _list(platform, templates, account, state)
