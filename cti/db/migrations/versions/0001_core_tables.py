"""core tables

Revision ID: 0001
Revises:
Create Date: 2026-11-24 22:16:05.269478
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("salutation", sa.String(length=40), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("segment", sa.String(length=40), nullable=False),
        sa.Column("vip", sa.Boolean(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("preferences", sa.JSON(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("external_id", name=op.f("uq_customers_external_id")),
    )
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customers_name"), ["name"], unique=False)

    op.create_table(
        "queues",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pbx", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("wrapup_seconds", sa.Integer(), nullable=False),
        sa.Column("pop_url_template", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queues")),
        sa.UniqueConstraint("pbx", "name", name=op.f("uq_queues_pbx_name")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "calls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pbx", sa.String(length=32), nullable=False),
        sa.Column("uniqueid", sa.String(length=150), nullable=False),
        sa.Column("linkedid", sa.String(length=150), nullable=False),
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("caller_number", sa.String(length=80), nullable=False),
        sa.Column("caller_name", sa.String(length=200), nullable=False),
        sa.Column("caller_e164", sa.String(length=20), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("queue", sa.String(length=80), nullable=False),
        sa.Column(
            "agent_user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("agent_interface", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enqueued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_ring_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("wait_seconds", sa.Float(), nullable=True),
        sa.Column("ring_seconds", sa.Float(), nullable=True),
        sa.Column("talk_seconds", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("hangup_cause", sa.Integer(), nullable=True),
        sa.Column("recording", sa.String(length=255), nullable=False),
        sa.Column("disposition", sa.String(length=64), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agent_user_id"],
            ["users.id"],
            name=op.f("fk_calls_agent_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_calls_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("pbx", "uniqueid", name=op.f("uq_calls_pbx_uniqueid")),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calls_agent_user_id"), ["agent_user_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_caller_e164"), ["caller_e164"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_linkedid"), ["linkedid"], unique=False)
        batch_op.create_index(batch_op.f("ix_calls_outcome"), ["outcome"], unique=False)
        batch_op.create_index("ix_calls_started_at_queue", ["started_at", "queue"], unique=False)

    op.create_table(
        "phone_numbers",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("raw", sa.String(length=64), nullable=False),
        sa.Column("e164", sa.String(length=20), nullable=False),
        sa.Column("reversed_digits", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_phone_numbers_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_phone_numbers")),
        sa.UniqueConstraint("customer_id", "e164", name=op.f("uq_phone_numbers_customer_id_e164")),
    )
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_phone_numbers_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_phone_numbers_e164"), ["e164"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_phone_numbers_reversed_digits"), ["reversed_digits"], unique=False
        )

    op.create_table(
        "user_devices",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pbx", sa.String(length=32), nullable=False),
        sa.Column("interface", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_devices_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_devices")),
        sa.UniqueConstraint("pbx", "interface", name=op.f("uq_user_devices_pbx_interface")),
    )
    with op.batch_alter_table("user_devices", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_devices_user_id"), ["user_id"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_web_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_web_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_expires_at"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("user_devices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_devices_user_id"))

    op.drop_table("user_devices")
    with op.batch_alter_table("phone_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_phone_numbers_reversed_digits"))
        batch_op.drop_index(batch_op.f("ix_phone_numbers_e164"))
        batch_op.drop_index(batch_op.f("ix_phone_numbers_customer_id"))

    op.drop_table("phone_numbers")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_started_at_queue")
        batch_op.drop_index(batch_op.f("ix_calls_outcome"))
        batch_op.drop_index(batch_op.f("ix_calls_linkedid"))
        batch_op.drop_index(batch_op.f("ix_calls_customer_id"))
        batch_op.drop_index(batch_op.f("ix_calls_caller_e164"))
        batch_op.drop_index(batch_op.f("ix_calls_agent_user_id"))

    op.drop_table("calls")
    op.drop_table("users")
    op.drop_table("queues")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_name"))

    op.drop_table("customers")
