"""calls: how the end was known, withheld callers; call_hours: cut off, unseen, wrap-up sums

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("end_source", sa.String(length=16), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("withheld", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("call_hours", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cut", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("unseen", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("talked", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("wrapup_total", sa.Float(), server_default="0", nullable=False)
        )
    # Sums made before these counts existed left such calls out: made again in the background.
    op.execute("DELETE FROM call_hours")
    op.execute("DELETE FROM call_hour_marks")


def downgrade() -> None:
    with op.batch_alter_table("call_hours", schema=None) as batch_op:
        batch_op.drop_column("wrapup_total")
        batch_op.drop_column("talked")
        batch_op.drop_column("unseen")
        batch_op.drop_column("cut")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("withheld")
        batch_op.drop_column("end_source")
