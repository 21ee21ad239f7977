"""customer CMPP/SMPP access: access types as sets, account TPS, given ids, connections

Revision ID: 0007
Revises: 0009
Create Date: 2026-12-02 01:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.alter_column(
            "access_type", existing_type=sa.String(length=8), type_=sa.String(length=16)
        )
        batch_op.add_column(sa.Column("tps", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "access_ids",
        sa.Column("mid", sa.String(length=16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("given_id", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("mid", "position"),
    )
    op.create_table(
        "access_connections",
        sa.Column("consumer", sa.String(length=64), nullable=False),
        sa.Column("node_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("bind_type", sa.String(length=16), nullable=False),
        sa.Column("peer", sa.String(length=64), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("consumer"),
    )


def downgrade() -> None:
    op.drop_table("access_connections")
    op.drop_table("access_ids")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("tps")
        batch_op.alter_column(
            "access_type", existing_type=sa.String(length=16), type_=sa.String(length=8)
        )
