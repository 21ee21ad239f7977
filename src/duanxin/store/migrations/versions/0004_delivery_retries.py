"""delivery retries: a history of each message's submits, throttles, retries and failovers

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 21:40:00.000000

A segment may now have more than one row in ``segments`` (one per copy the carriers
accepted: a resent submit, a late response, a retry of a refused segment elsewhere); the
table had no unique key on (mid, number), so only the history table is new.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "message_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("mid", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("detail", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channels.id"],
            name=op.f("fk_message_events_channel_id_channels"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_events")),
    )
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_events_mid"), ["mid", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("message_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_message_events_mid"))
    op.drop_table("message_events")
