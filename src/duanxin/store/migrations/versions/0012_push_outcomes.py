"""push outcomes: the last tries to push to each account's callback URLs

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-02 04:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "push_outcomes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=128), nullable=False),
        sa.Column("items", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_push_outcomes_account_id_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_outcomes")),
    )
    op.create_index(
        "ix_push_outcomes_account_id_kind_id", "push_outcomes", ["account_id", "kind", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_push_outcomes_account_id_kind_id", table_name="push_outcomes")
    op.drop_table("push_outcomes")
