"""The database tables, as typed SQLAlchemy 2 declarative models.

Every schema change is an alembic migration in cti/db/migrations/versions; the models and the
migrations are checked against each other by a test.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    mapped_column,
    orm_insert_sentinel,
    relationship,
)
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger ids autoincrement on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer, "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC out, on SQLite (which keeps no zone) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; cti stores aware UTC times")
        return (
            value.astimezone(UTC)
            if dialect.name != "sqlite"
            else value.astimezone(UTC).replace(tzinfo=None)
        )

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _now_column() -> Mapped[datetime]:
    return mapped_column(UtcDateTime(), default=_utcnow)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    salutation: Mapped[str] = mapped_column(String(40), default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="")
    segment: Mapped[str] = mapped_column(String(40), default="")
    vip: Mapped[bool] = mapped_column(Boolean, default=False)
    tags: Mapped[list[str]] = mapped_column(default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    preferences: Mapped[dict[str, Any]] = mapped_column(default=dict)
    email: Mapped[str] = mapped_column(String(254), default="")
    created_at: Mapped[datetime] = _now_column()
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_utcnow, onupdate=_utcnow)
    # Lets a bulk insert on SQLite return new ids in parameter order (see the importer).
    _sentinel: Mapped[int] = orm_insert_sentinel()

    phones: Mapped[list[PhoneNumber]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", lazy="raise"
    )


class PhoneNumber(Base):
    """A customer's number; the same number may belong to several customers (a shared landline)."""

    __tablename__ = "phone_numbers"
    __table_args__ = (UniqueConstraint("customer_id", "e164"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    raw: Mapped[str] = mapped_column(String(64))
    e164: Mapped[str] = mapped_column(String(20), index=True)
    # The digits reversed, so "last N digits" is an indexed prefix search on both databases.
    reversed_digits: Mapped[str] = mapped_column(String(20), index=True)
    label: Mapped[str] = mapped_column(String(40), default="")
    created_at: Mapped[datetime] = _now_column()

    customer: Mapped[Customer] = relationship(back_populates="phones", lazy="raise")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str] = mapped_column(String(16), default="en")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _now_column()

    devices: Mapped[list[UserDevice]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="raise"
    )


class UserDevice(Base):
    """A device interface (PJSIP/1001, Local/1001@from-queue/n) that rings this user."""

    __tablename__ = "user_devices"
    __table_args__ = (UniqueConstraint("pbx", "interface"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    pbx: Mapped[str] = mapped_column(String(32), default="")
    interface: Mapped[str] = mapped_column(String(128))

    user: Mapped[User] = relationship(back_populates="devices", lazy="raise")


class WebSession(Base):
    """A login session; the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # Seen in use last (for the idle timeout); None until the first request after sign-in.
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class Queue(Base):
    __tablename__ = "queues"
    __table_args__ = (UniqueConstraint("pbx", "name"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    pbx: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    wrapup_seconds: Mapped[int] = mapped_column(Integer, default=0)
    pop_url_template: Mapped[str] = mapped_column(String(500), default="")


class Call(Base):
    """One call as the call log keeps it; keyed by the PBX and the queue caller's Uniqueid."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("pbx", "uniqueid"),
        Index("ix_calls_started_at_queue", "started_at", "queue"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    pbx: Mapped[str] = mapped_column(String(32))
    uniqueid: Mapped[str] = mapped_column(String(150))
    linkedid: Mapped[str] = mapped_column(String(150), default="", index=True)
    direction: Mapped[str] = mapped_column(String(16))
    caller_number: Mapped[str] = mapped_column(String(80), default="")
    caller_name: Mapped[str] = mapped_column(String(200), default="")
    caller_e164: Mapped[str] = mapped_column(String(20), default="", index=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    queue: Mapped[str] = mapped_column(String(80), default="")
    agent_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    agent_interface: Mapped[str] = mapped_column(String(128), default="")
    agent_name: Mapped[str] = mapped_column(String(120), default="", server_default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    enqueued_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    first_ring_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    ring_seconds: Mapped[float | None] = mapped_column(Float)
    talk_seconds: Mapped[float | None] = mapped_column(Float)
    pbx_hold_seconds: Mapped[int | None] = mapped_column(Integer)
    pbx_talk_seconds: Mapped[int | None] = mapped_column(Integer)
    # Each agent rung: {"agent", "interface", "rung_at", "ended_at", "result"}, in order.
    attempts: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    outcome: Mapped[str] = mapped_column(String(32), default="", index=True)
    hangup_cause: Mapped[int | None] = mapped_column(Integer)
    end_reason: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # How the end was known: "" seen live; "outage" not seen (the link was down: ended_at is the
    # moment it was lost); "queue-log" read afterwards from Asterisk's queue_log.
    end_source: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # The caller asked for their number to be withheld (presentation prohibited).
    withheld: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    recording: Mapped[str] = mapped_column(String(255), default="")
    disposition: Mapped[str] = mapped_column(String(64), default="")
    notes: Mapped[str] = mapped_column(Text, default="")


class AgentPeriod(Base):
    """A stretch of time one agent spent in one state (paused: with its reason)."""

    __tablename__ = "agent_periods"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    pbx: Mapped[str] = mapped_column(String(32))
    interface: Mapped[str] = mapped_column(String(128))
    agent_name: Mapped[str] = mapped_column(String(120))
    state: Mapped[str] = mapped_column(String(16))
    paused_reason: Mapped[str] = mapped_column(String(60))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    ended_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SmsMessage(Base):
    """One SMS, out or in. Outgoing ones are the outbox: a row exists before any gateway sees it."""

    __tablename__ = "sms_messages"
    __table_args__ = (
        Index("ix_sms_messages_status_due_at", "status", "due_at"),
        Index("ix_sms_messages_phone_created_at", "phone", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    direction: Mapped[str] = mapped_column(String(3))
    # The caller's own key ("appointment-confirmation:42"): a second enqueue is the same message.
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # Random; the only way a delivery report or the gateway refers back to this row.
    token: Mapped[str] = mapped_column(String(32), unique=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    phone: Mapped[str] = mapped_column(String(20))
    our_number: Mapped[str] = mapped_column(String(40), default="")
    body: Mapped[str] = mapped_column(Text)
    template: Mapped[str] = mapped_column(String(80), default="")
    transactional: Mapped[bool] = mapped_column(Boolean, default=True)
    gateway: Mapped[str] = mapped_column(String(32), default="")
    status: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str] = mapped_column(String(40), default="")
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    provider_id: Mapped[str] = mapped_column(String(64), default="", index=True)
    error_code: Mapped[str] = mapped_column(String(32), default="")
    error_text: Mapped[str] = mapped_column(String(500), default="")
    segments: Mapped[int] = mapped_column(Integer, default=1)
    encoding: Mapped[str] = mapped_column(String(8), default="GSM-7")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = _now_column()
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    status_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class SmsOptOut(Base):
    """A number that asked not to be sent messages; the row goes when it opts back in."""

    __tablename__ = "sms_opt_outs"

    e164: Mapped[str] = mapped_column(String(20), primary_key=True)
    keyword: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = _now_column()


class SmsTemplate(Base):
    __tablename__ = "sms_templates"
    __table_args__ = (UniqueConstraint("name", "language"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    language: Mapped[str] = mapped_column(String(16), default="")
    body: Mapped[str] = mapped_column(Text)
    transactional: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=_utcnow, onupdate=_utcnow)


class CallHour(Base):
    """Ended queue calls summed per UTC hour and queue (or agent), as reports add them up: kept
    for hours a day old and more, so that a month's report reads hundreds of rows, not millions.
    `thresholds` names the short-abandon and service-level seconds the sums were made with."""

    __tablename__ = "call_hours"
    __table_args__ = (UniqueConstraint("thresholds", "grouping", "hour", "key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    thresholds: Mapped[str] = mapped_column(String(32))
    grouping: Mapped[str] = mapped_column(String(8))
    hour: Mapped[datetime] = mapped_column(UtcDateTime())
    key: Mapped[str] = mapped_column(String(120))
    offered: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)
    short: Mapped[int] = mapped_column(Integer)
    timed_out: Mapped[int] = mapped_column(Integer)
    no_agent: Mapped[int] = mapped_column(Integer)
    cut: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    unseen: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    in_time: Mapped[int] = mapped_column(Integer)
    talked: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    wrapup_total: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    wait_total: Mapped[float] = mapped_column(Float)
    talk_total: Mapped[float] = mapped_column(Float)
    longest: Mapped[float] = mapped_column(Float)


class CallHourMark(Base):
    """An hour whose sums are in call_hours (an hour without calls has a mark and no rows)."""

    __tablename__ = "call_hour_marks"

    thresholds: Mapped[str] = mapped_column(String(32), primary_key=True)
    hour: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)


class AuditEntry(Base):
    """One line of the audit trail: who (user, address) did what to which object, and when.

    Append-only: the service inserts rows and never updates them; they leave only when older
    than the configured retention. The user name is kept as it was, so a row still says who
    acted after that user is renamed or gone."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_action_at", "action", "at"),
        Index("ix_audit_log_username_at", "username", "at"),
        Index("ix_audit_log_customer_id_at", "customer_id", "at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(32), default="")
    object_id: Mapped[str] = mapped_column(String(64), default="")
    customer_id: Mapped[int | None] = mapped_column(Integer)
    # For changes: {"before": {...}, "after": {...}}; for imports and exports: row counts.
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
