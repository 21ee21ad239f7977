"""Migration 0009 encrypts the secrets of a database written before it (SQLite and
PostgreSQL), and the store reads them back in clear."""

from __future__ import annotations

import asyncio
from datetime import datetime

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from duanxin.config import Settings
from duanxin.service.platform import Platform
from duanxin.store import crypto
from duanxin.store.accounts import find_account, secret_for
from duanxin.store.engine import alembic_config, migrate

OLD_ACCOUNT = (
    "INSERT INTO accounts (customer_id, account, password, spid, extno, charge_type, balance,"
    " refund_on_failure, state, access_type, ip_whitelist, max_concurrency, template_required,"
    " default_signature, created_at) VALUES (:c, 'old', 'plain-password', '9', '', 'PRECHARGE',"
    " 0, false, 'active', 'http', '', 0, false, '', :t)"
)
OLD_KEY = (
    "INSERT INTO api_keys (secret_id, secret_key, customer_id, enabled, created_at) "
    "VALUES ('AKIDold', 'plain-secret-key', :c, true, :t)"
)


async def _old_rows(url: str) -> None:
    engine = create_async_engine(url)
    now = datetime(2026, 1, 1)
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO customers (name, created_at) VALUES ('old', :t)"), {"t": now}
        )
        customer = (await conn.execute(text("SELECT id FROM customers"))).scalar_one()
        await conn.execute(text(OLD_KEY), {"c": customer, "t": now})
        await conn.execute(text(OLD_ACCOUNT), {"c": customer, "t": now})
    await engine.dispose()


async def _stored(url: str) -> str:
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        key = (await conn.execute(text("SELECT secret_key FROM api_keys"))).scalar_one()
        password = (await conn.execute(text("SELECT password FROM accounts"))).scalar_one()
    await engine.dispose()
    return f"{key} {password}"


async def _read(url: str) -> None:
    platform = Platform.open(Settings(database_url=url))
    try:
        async with platform.engine.connect() as conn:
            found = await find_account(conn, "old")
            secret = await secret_for(conn, "AKIDold")
    finally:
        await platform.close()
    assert found is not None and found.password == "plain-password"
    assert secret is not None and secret.secret_key == "plain-secret-key"


def test_existing_secrets_are_encrypted_by_the_migration(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "0005")
    asyncio.run(_old_rows(database_url))
    migrate(database_url)
    stored = asyncio.run(_stored(database_url))
    key, password = stored.split()
    assert key.startswith(crypto.PREFIX) and password.startswith(crypto.PREFIX)
    assert "plain" not in stored
    asyncio.run(_read(database_url))
