"""agent_periods: how long each agent spent in each state

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 16:35:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_periods",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pbx", sa.String(length=32), nullable=False),
        sa.Column("interface", sa.String(length=128), nullable=False),
        sa.Column("agent_name", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("paused_reason", sa.String(length=60), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_periods")),
    )
    with op.batch_alter_table("agent_periods", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_agent_periods_started_at"), ["started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("agent_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_agent_periods_started_at"))
    op.drop_table("agent_periods")
