"""Customers, API keys, accounts and the balance ledger."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from duanxin.domain.accounts import AccessType, Account, AccountState
from duanxin.domain.billing import ChargeType
from duanxin.domain.policy import TemplateKind
from duanxin.store import crypto, prepared
from duanxin.store.tables import (
    accounts,
    api_keys,
    audit_log,
    channels,
    customers,
    operator_tokens,
    routes,
)

__all__ = [
    "BatchCharges",
    "KeySecret",
    "SendCharge",
    "account_exists",
    "account_from_row",
    "add_api_key",
    "adjust_balance",
    "create_account",
    "create_customer",
    "customer_id_for",
    "find_account",
    "get_account_by_id",
    "list_accounts",
    "list_customers",
    "operator_for_token",
    "routed_carriers",
    "routed_channels",
    "secret_for",
    "update_account",
    "write_audit",
    "write_charges",
]


def account_from_row(row: RowMapping) -> Account:
    return Account(
        id=row["id"],
        customer_id=row["customer_id"],
        account=row["account"],
        password=crypto.reveal(row["password"]),
        spid=row["spid"],
        extno=row["extno"],
        charge_type=ChargeType(row["charge_type"]),
        balance=row["balance"],
        refund_on_failure=row["refund_on_failure"],
        state=AccountState(row["state"]),
        access_type=AccessType(row["access_type"]),
        ip_whitelist=row["ip_whitelist"],
        max_concurrency=row["max_concurrency"],
        template_required=row["template_required"],
        default_signature=row["default_signature"],
        default_kind=TemplateKind(row["default_kind"]) if row["default_kind"] else None,
        tps=row["tps"],
    )


async def create_customer(conn: AsyncConnection, name: str, now: datetime) -> int:
    result = await conn.execute(
        customers.insert().values(name=name, created_at=now).returning(customers.c.id)
    )
    return int(result.scalar_one())


async def add_api_key(
    conn: AsyncConnection,
    customer_id: int,
    secret_id: str,
    secret_key: str,
    now: datetime,
    expires_at: datetime | None = None,
) -> None:
    await conn.execute(
        api_keys.insert().values(
            secret_id=secret_id,
            secret_key=crypto.conceal(secret_key),
            customer_id=customer_id,
            enabled=True,
            created_at=now,
            expires_at=expires_at,
        )
    )


@dataclass(frozen=True, slots=True)
class KeySecret:
    """What checking a signature needs of an API key."""

    secret_key: str
    customer_id: int
    expires_at: datetime | None


async def secret_for(conn: AsyncConnection, secret_id: str) -> KeySecret | None:
    """The SecretKey, customer and expiry of a SecretId not revoked."""
    row = (
        await conn.execute(
            select(api_keys.c.secret_key, api_keys.c.customer_id, api_keys.c.expires_at).where(
                api_keys.c.secret_id == secret_id, api_keys.c.enabled.is_(True)
            )
        )
    ).first()
    return KeySecret(crypto.reveal(row[0]), int(row[1]), row[2]) if row else None


async def customer_id_for(conn: AsyncConnection, name: str) -> int | None:
    row = (await conn.execute(select(customers.c.id).where(customers.c.name == name))).first()
    return None if row is None else int(row[0])


def _stored(values: Mapping[str, Any]) -> dict[str, Any]:
    stored = dict(values)
    if "password" in stored:
        stored["password"] = crypto.conceal(stored["password"])
    return stored


async def create_account(conn: AsyncConnection, values: Mapping[str, Any], now: datetime) -> int:
    result = await conn.execute(
        accounts.insert().values(**_stored(values), created_at=now).returning(accounts.c.id)
    )
    return int(result.scalar_one())


async def find_account(conn: AsyncConnection, account: str) -> Account | None:
    row = (await conn.execute(select(accounts).where(accounts.c.account == account))).mappings()
    first = row.first()
    return account_from_row(first) if first else None


async def account_exists(conn: AsyncConnection, account: str) -> bool:
    row = (await conn.execute(select(accounts.c.id).where(accounts.c.account == account))).first()
    return row is not None


async def get_account_by_id(conn: AsyncConnection, account_id: int) -> Account | None:
    rows = (await conn.execute(select(accounts).where(accounts.c.id == account_id))).mappings()
    first = rows.first()
    return account_from_row(first) if first else None


async def list_accounts(conn: AsyncConnection) -> list[Account]:
    rows = (await conn.execute(select(accounts).order_by(accounts.c.id))).mappings()
    return [account_from_row(r) for r in rows]


async def operator_for_token(conn: AsyncConnection, token_hash: str) -> str | None:
    """The name of the operator whose token hashes to ``token_hash``, if any."""
    row = (
        await conn.execute(
            select(operator_tokens.c.name).where(
                operator_tokens.c.token_hash == token_hash, operator_tokens.c.revoked_at.is_(None)
            )
        )
    ).first()
    return None if row is None else str(row[0])


async def update_account(conn: AsyncConnection, account_id: int, values: Mapping[str, Any]) -> None:
    await conn.execute(
        update(accounts).where(accounts.c.id == account_id).values(**_stored(values))
    )


# Every send runs these (see store/prepared.py).
_LEDGER = prepared.Sql(
    """INSERT INTO ledger (account_id, delta, balance_after, reason, reference, created_at)
    VALUES ($1, $2, $3, $4, $5, $6)"""
)


_HOLD = prepared.Sql(
    "UPDATE accounts SET balance = balance WHERE id = $1 RETURNING balance, charge_type"
)
_TAKE = prepared.Sql("UPDATE accounts SET balance = balance - $2 WHERE id = $1 RETURNING balance")


@dataclass(slots=True)
class _Held:
    balance: int
    postcharge: bool


class BatchCharges:
    """The charges of one group-commit batch's sends: each account's balance is read, and
    its row locked, once per batch; what each send takes is worked out from it here and
    written by :func:`write_charges`, once per account for the batch."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held: dict[int, _Held] = {}

    async def take(self, conn: AsyncConnection, account_id: int, cost: int) -> int | None:
        """The balance after ``cost`` is taken; None when a prepaid balance cannot cover
        it (nothing taken). Write the charge with :func:`write_charges` in the same
        transaction."""
        held = self._held.get(account_id)
        if held is None:
            rows = await prepared.fetch(conn, _HOLD, account_id)
            if not rows:
                return None
            balance, charge_type = rows[0]
            postcharge = charge_type == ChargeType.POSTCHARGE.value
            held = self._held[account_id] = _Held(int(balance), postcharge)
        if not held.postcharge and held.balance < cost:
            return None
        held.balance -= cost
        return held.balance


@dataclass(frozen=True, slots=True)
class SendCharge:
    """What one send took (its :meth:`BatchCharges.take`), for its ledger row."""

    account_id: int
    cost: int
    reference: str
    at: datetime


async def write_charges(conn: AsyncConnection, charges: list[SendCharge]) -> None:
    """Take the sends' charges from their accounts (one update per account) and write a
    ledger row for each, with the balance after it (in the order given)."""
    by_account: dict[int, list[SendCharge]] = {}
    for charge_ in charges:
        if charge_.cost:
            by_account.setdefault(charge_.account_id, []).append(charge_)
    rows = []
    for account_id, theirs in sorted(by_account.items()):  # PostgreSQL: locks in one order
        total = sum(c.cost for c in theirs)
        ((balance,),) = await prepared.fetch(conn, _TAKE, account_id, total)
        after = int(balance) + total
        for c in theirs:
            after -= c.cost
            rows.append((account_id, -c.cost, after, "send", c.reference[:64], c.at))
    if rows:
        await prepared.execute_many(conn, _LEDGER, rows)


async def adjust_balance(
    conn: AsyncConnection,
    account_id: int,
    delta: int,
    reason: str,
    reference: str,
    now: datetime,
) -> int:
    """Add ``delta`` (negative to take) and write the ledger row; return the new balance."""
    result = await conn.execute(
        update(accounts)
        .where(and_(accounts.c.id == account_id))
        .values(balance=accounts.c.balance + delta)
        .returning(accounts.c.balance)
    )
    balance = int(result.scalar_one())
    await _record(conn, account_id, delta, balance, reason, reference, now)
    return balance


async def _record(
    conn: AsyncConnection,
    account_id: int,
    delta: int,
    balance: int,
    reason: str,
    reference: str,
    now: datetime,
) -> None:
    await prepared.execute(conn, _LEDGER, account_id, delta, balance, reason, reference[:64], now)


async def write_audit(
    conn: AsyncConnection,
    actor: str,
    action: str,
    subject: str,
    detail: Mapping[str, Any],
    now: datetime,
) -> None:
    await conn.execute(
        audit_log.insert().values(
            actor=actor, action=action, subject=subject, detail=dict(detail), created_at=now
        )
    )


async def routed_carriers(conn: AsyncConnection, account_id: int) -> frozenset[str]:
    """The carriers ``account_id`` has a route to over an enabled channel."""
    rows = await conn.execute(
        select(routes.c.carrier)
        .join(channels, channels.c.id == routes.c.channel_id)
        .where(routes.c.account_id == account_id, channels.c.enabled.is_(True))
        .distinct()
    )
    return frozenset(rows.scalars())


async def routed_channels(conn: AsyncConnection) -> list[tuple[str, str, str]]:
    """Every route as ``(account, carrier, channel name)``, enabled channels only."""
    rows = await conn.execute(
        select(accounts.c.account, routes.c.carrier, channels.c.name)
        .join(accounts, accounts.c.id == routes.c.account_id)
        .join(channels, channels.c.id == routes.c.channel_id)
        .where(channels.c.enabled.is_(True))
        .order_by(accounts.c.account, routes.c.carrier, routes.c.priority)
    )
    return [(str(a), str(c), str(n)) for a, c, n in rows]


async def list_customers(conn: AsyncConnection) -> list[RowMapping]:
    rows = await conn.execute(select(customers).order_by(customers.c.id))
    return list(rows.mappings())
