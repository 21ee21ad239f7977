"""several API keys per customer (expiry, revocation), operator token revocation, and the
recoverable secrets (SecretKeys, account and carrier passwords) encrypted at rest

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-02 01:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from duanxin.store import crypto

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None

#: (table, key column, secret column) of every secret kept recoverable.
SECRETS = (
    ("api_keys", "secret_id", "secret_key"),
    ("accounts", "id", "password"),
    ("channels", "id", "password"),
)


def _ensure_key() -> None:
    if crypto.installed():
        return
    from duanxin.config import load_settings

    key = load_settings().encryption_key
    if key:
        crypto.install(key)


def _encrypt_existing(table: str, key: str, column: str, reverse: bool = False) -> None:
    bind = op.get_bind()
    rows = bind.execute(sa.text(f"SELECT {key}, {column} FROM {table}")).fetchall()
    if not rows:
        return
    _ensure_key()
    for row_key, value in rows:
        if reverse:
            new = crypto.reveal(value)
        elif value.startswith(crypto.PREFIX):
            continue
        else:
            new = crypto.conceal(value)
        bind.execute(
            sa.text(f"UPDATE {table} SET {column} = :value WHERE {key} = :key"),
            {"value": new, "key": row_key},
        )


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(), nullable=True))
        batch_op.alter_column(
            "secret_key", existing_type=sa.String(length=128), type_=sa.String(length=255)
        )
    with op.batch_alter_table("operator_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", sa.DateTime(), nullable=True))
    for table in ("accounts", "channels"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "password", existing_type=sa.String(length=64), type_=sa.String(length=255)
            )
    for table, key, column in SECRETS:
        _encrypt_existing(table, key, column)


def downgrade() -> None:
    for table, key, column in SECRETS:
        _encrypt_existing(table, key, column, reverse=True)
    for table in ("accounts", "channels"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(
                "password", existing_type=sa.String(length=255), type_=sa.String(length=64)
            )
    with op.batch_alter_table("operator_tokens", schema=None) as batch_op:
        batch_op.drop_column("revoked_at")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column(
            "secret_key", existing_type=sa.String(length=255), type_=sa.String(length=128)
        )
        batch_op.drop_column("revoked_at")
        batch_op.drop_column("expires_at")
