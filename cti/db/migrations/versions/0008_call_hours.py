"""call_hours and call_hour_marks: hourly sums for reports

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 18:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "call_hour_marks",
        sa.Column("thresholds", sa.String(length=32), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("thresholds", "hour", name=op.f("pk_call_hour_marks")),
    )
    op.create_table(
        "call_hours",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("thresholds", sa.String(length=32), nullable=False),
        sa.Column("grouping", sa.String(length=8), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key", sa.String(length=120), nullable=False),
        sa.Column("offered", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("abandoned", sa.Integer(), nullable=False),
        sa.Column("short", sa.Integer(), nullable=False),
        sa.Column("timed_out", sa.Integer(), nullable=False),
        sa.Column("no_agent", sa.Integer(), nullable=False),
        sa.Column("in_time", sa.Integer(), nullable=False),
        sa.Column("wait_total", sa.Float(), nullable=False),
        sa.Column("talk_total", sa.Float(), nullable=False),
        sa.Column("longest", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_hours")),
        sa.UniqueConstraint(
            "thresholds",
            "grouping",
            "hour",
            "key",
            name=op.f("uq_call_hours_thresholds_grouping_hour_key"),
        ),
    )


def downgrade() -> None:
    op.drop_table("call_hours")
    op.drop_table("call_hour_marks")
