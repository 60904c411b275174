"""calls: the PBX's own hold and talk seconds

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pbx_hold_seconds", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pbx_talk_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("pbx_talk_seconds")
        batch_op.drop_column("pbx_hold_seconds")
