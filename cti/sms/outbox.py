"""The outbox's storage: enqueue once per key, claim under a lease, record what happened.

Every state change of a claimed row is conditioned on the claiming worker still holding the
lease, so a worker that lost its lease (it stalled, another one took over) changes nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, and_, bindparam, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from cti.db.models import Customer, SmsMessage, SmsOptOut
from cti.sms import status as st


@dataclass(frozen=True, slots=True)
class NewSms:
    phone: str
    body: str
    gateway: str
    our_number: str
    key: str | None = None
    customer_id: int | None = None
    template: str = ""
    transactional: bool = True
    created_by: int | None = None
    due_at: datetime | None = None
    segments: int = 1
    encoding: str = "GSM-7"
    direction: str = "out"
    # Replies given inline to a webhook and inbound messages are stored already settled.
    status: str = st.PENDING


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    token: str
    key: str | None
    phone: str
    body: str
    gateway: str
    transactional: bool
    attempts: int
    encoding: str
    timezone: str


def new_token() -> str:
    return secrets.token_hex(16)


async def enqueue(session: AsyncSession, sms: NewSms, now: datetime) -> tuple[int, bool]:
    """The message's id, and whether this call created it (False: its key was already there)."""
    return (await enqueue_many(session, [sms], now))[0]


async def enqueue_many(
    session: AsyncSession, messages: Sequence[NewSms], now: datetime
) -> list[tuple[int, bool]]:
    """Store many messages in one statement; per message, its id and whether it is new. A key
    already stored, or repeated in `messages`, names the message stored first. If another
    transaction stores one of these keys at the same moment, this raises IntegrityError: run the
    transaction again.

    No savepoint: on SQLite a read inside a transaction that then writes cannot wait for another
    writer's lock and fails at once ("database is locked")."""
    keys = [m.key for m in messages if m.key is not None]
    known: dict[str, int] = {}
    if keys:
        rows = await session.execute(
            select(SmsMessage.idempotency_key, SmsMessage.id).where(
                SmsMessage.idempotency_key.in_(keys)
            )
        )
        known = {key: message_id for key, message_id in rows if key is not None}
    tokens: list[str | None] = []
    values: list[dict[str, object]] = []
    claimed_keys: set[str] = set()
    for message in messages:
        if message.key is not None and (message.key in known or message.key in claimed_keys):
            tokens.append(None)
            continue
        if message.key is not None:
            claimed_keys.add(message.key)
        fresh_token = new_token()
        tokens.append(fresh_token)
        values.append(_row(message, fresh_token, now))
    ids: dict[str, int] = {}
    if values:
        await session.execute(insert(SmsMessage), values)
        fresh = [t for t in tokens if t is not None]
        stored = await session.execute(
            select(SmsMessage.token, SmsMessage.id).where(SmsMessage.token.in_(fresh))
        )
        ids = {token: message_id for token, message_id in stored}
        for message, made in zip(messages, tokens, strict=True):
            if made is not None and message.key is not None:
                known[message.key] = ids[made]
    return [
        (ids[token], True) if token is not None else (known[message.key or ""], False)
        for message, token in zip(messages, tokens, strict=True)
    ]


def _row(sms: NewSms, token: str, now: datetime) -> dict[str, object]:
    return {
        "direction": sms.direction,
        "idempotency_key": sms.key,
        "token": token,
        "customer_id": sms.customer_id,
        "phone": sms.phone,
        "our_number": sms.our_number,
        "body": sms.body,
        "template": sms.template,
        "transactional": sms.transactional,
        "gateway": sms.gateway,
        "status": sms.status,
        "due_at": sms.due_at or now,
        "attempts": 0,
        "lease_owner": "",
        "provider_id": "",
        "error_code": "",
        "error_text": "",
        "sent_at": None if sms.status == st.PENDING else now,
        "created_by": sms.created_by,
        "created_at": now,
        "segments": sms.segments,
        "encoding": sms.encoding,
    }


async def claim(
    session: AsyncSession, gateway: str, owner: str, limit: int, now: datetime, lease: float
) -> list[Claimed]:
    """Take up to `limit` due messages for one gateway; skipped by other workers (PostgreSQL
    SKIP LOCKED; SQLite serialises writers)."""
    due = (
        select(SmsMessage.id)
        .where(
            SmsMessage.status == st.PENDING,
            SmsMessage.gateway == gateway,
            SmsMessage.due_at <= now,
        )
        .order_by(SmsMessage.due_at, SmsMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(
        await session.scalars(
            update(SmsMessage)
            .where(SmsMessage.id.in_(due.scalar_subquery()))
            .values(
                status=st.SENDING,
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease),
                attempts=SmsMessage.attempts + 1,
            )
            .returning(SmsMessage.id)
        )
    )
    if not ids:
        return []
    rows = await session.execute(
        select(
            SmsMessage.id,
            SmsMessage.token,
            SmsMessage.idempotency_key,
            SmsMessage.phone,
            SmsMessage.body,
            SmsMessage.gateway,
            SmsMessage.transactional,
            SmsMessage.attempts,
            SmsMessage.encoding,
            func.coalesce(Customer.timezone, ""),
        )
        .outerjoin(Customer, Customer.id == SmsMessage.customer_id)
        .where(SmsMessage.id.in_(ids))
        .order_by(SmsMessage.due_at, SmsMessage.id)
    )
    return [Claimed(*tuple(row)) for row in rows]


async def opted_out(session: AsyncSession, numbers: Sequence[str]) -> set[str]:
    found = await session.scalars(select(SmsOptOut.e164).where(SmsOptOut.e164.in_(numbers)))
    return set(found)


async def sent_since(
    session: AsyncSession, numbers: Sequence[str], since: datetime
) -> dict[str, int]:
    """Messages each number was sent since `since`."""
    rows = await session.execute(
        select(SmsMessage.phone, func.count())
        .where(
            SmsMessage.direction == "out",
            SmsMessage.phone.in_(numbers),
            SmsMessage.sent_at >= since,
            SmsMessage.status.in_(st.COUNTED),
        )
        .group_by(SmsMessage.phone)
    )
    return {number: count for number, count in rows}


def _held(message_id: int, owner: str) -> tuple[ColumnElement[bool], ...]:
    return (
        SmsMessage.id == message_id,
        SmsMessage.status == st.SENDING,
        SmsMessage.lease_owner == owner,
    )


_TABLE = cast(Table, SmsMessage.__table__)
# Built once: the worker records every accepted message through it, many at a time. A fast
# provider's delivery report may have arrived first and moved the status on already.
_ACCEPTED = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("m_id"), _TABLE.c.lease_owner == bindparam("m_owner"))
    .values(
        status=case((_TABLE.c.status == st.SENDING, bindparam("m_status")), else_=_TABLE.c.status),
        provider_id=bindparam("m_provider"),
        sent_at=bindparam("m_at"),
        status_at=bindparam("m_at"),
        lease_owner="",
        lease_until=None,
        error_code="",
        error_text="",
    )
)


@dataclass(frozen=True, slots=True)
class Acceptance:
    message_id: int
    provider_id: str
    status: str
    at: datetime


async def accepted(session: AsyncSession, owner: str, done: Sequence[Acceptance]) -> None:
    await session.execute(
        _ACCEPTED,
        [
            {
                "m_id": a.message_id,
                "m_owner": owner,
                "m_status": a.status,
                "m_provider": a.provider_id,
                "m_at": a.at,
            }
            for a in done
        ],
    )


async def release(
    session: AsyncSession,
    message_id: int,
    owner: str,
    due_at: datetime,
    *,
    code: str = "",
    text: str = "",
    uncount: bool = False,
) -> None:
    """Back to the outbox until `due_at` (a retry, quiet hours); `uncount`: nothing was tried."""
    values: dict[str, object] = {
        "status": st.PENDING,
        "due_at": due_at,
        "lease_owner": "",
        "lease_until": None,
        "error_code": code,
        "error_text": text[:500],
    }
    if uncount:
        values["attempts"] = SmsMessage.attempts - 1
    await session.execute(update(SmsMessage).where(*_held(message_id, owner)).values(**values))


async def finish(
    session: AsyncSession,
    message_id: int,
    owner: str,
    status: str,
    code: str,
    text: str,
    now: datetime,
) -> None:
    """A final verdict without a provider id: failed for good, or blocked by policy."""
    await session.execute(
        update(SmsMessage)
        .where(*_held(message_id, owner))
        .values(
            status=status,
            status_at=now,
            lease_owner="",
            lease_until=None,
            error_code=code[:32],
            error_text=text[:500],
        )
    )


async def expired(session: AsyncSession, now: datetime) -> list[tuple[int, str]]:
    """Messages whose worker died while handing them to the gateway: (id, gateway)."""
    rows = await session.execute(
        select(SmsMessage.id, SmsMessage.gateway).where(
            SmsMessage.status == st.SENDING, SmsMessage.lease_until < now
        )
    )
    return [(message_id, gateway) for message_id, gateway in rows]


async def recover(session: AsyncSession, message_id: int, now: datetime, *, resend: bool) -> None:
    """Settle a message a crash left in flight: resend it (the gateway deduplicates), or stop
    and say so, since sending it again might send it twice."""
    condition = and_(
        SmsMessage.id == message_id,
        SmsMessage.status == st.SENDING,
        SmsMessage.lease_until < now,
    )
    common = {"lease_owner": "", "lease_until": None}
    if resend:
        values: dict[str, object] = {"status": st.PENDING, "due_at": now, **common}
    else:
        values = {
            "status": st.FAILED,
            "status_at": now,
            "error_code": "interrupted",
            "error_text": "the service stopped while handing this message to the gateway, "
            "which may have sent it; not resent, to avoid a duplicate",
            **common,
        }
    await session.execute(update(SmsMessage).where(condition).values(**values))


async def retry(session: AsyncSession, message_id: int, now: datetime) -> bool:
    """An admin's retry of a failed message: back to the outbox with fresh attempts."""
    result = await session.execute(
        update(SmsMessage)
        .where(
            SmsMessage.id == message_id,
            SmsMessage.direction == "out",
            SmsMessage.status == st.FAILED,
        )
        .values(status=st.PENDING, due_at=now, attempts=0, error_code="", error_text="")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def next_due(session: AsyncSession) -> datetime | None:
    due: datetime | None = await session.scalar(
        select(func.min(SmsMessage.due_at)).where(SmsMessage.status == st.PENDING)
    )
    return due


async def report(
    session: AsyncSession,
    status: str,
    now: datetime,
    *,
    token: str = "",
    provider_id: str = "",
    code: str = "",
    text: str = "",
) -> bool:
    """Apply a gateway's delivery report found by our token or the provider's id; only a status
    that moves the message forward changes it. Whether the message is known."""
    if not (token or provider_id):
        return False
    where = SmsMessage.token == token if token else SmsMessage.provider_id == provider_id
    values: dict[str, object] = {"status": status, "status_at": now}
    if code or text:
        values.update(error_code=code[:32], error_text=text[:500])
    # One statement, conditioned on the status being behind: of two reports racing (an SMSC's ack
    # and the delivery arrive in the same millisecond), the later status wins whatever the order.
    moved = await session.execute(
        update(SmsMessage)
        .where(where, SmsMessage.direction == "out", SmsMessage.status.in_(st.behind(status)))
        .values(**values)
    )
    if moved.rowcount:  # type: ignore[attr-defined]
        return True
    known = await session.scalar(
        select(SmsMessage.id).where(where, SmsMessage.direction == "out").limit(1)
    )
    return known is not None


async def listing(session: AsyncSession, status: str, limit: int = 200) -> list[SmsMessage]:
    """Messages in one status, latest first, for the admin's outbox view (`received`: the
    inbound ones, those from numbers no customer has included)."""
    return list(
        await session.scalars(
            select(SmsMessage)
            .where(SmsMessage.status == status)
            .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc())
            .limit(limit)
        )
    )


async def status_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(
        select(SmsMessage.status, func.count()).group_by(SmsMessage.status)
    )
    return {status: count for status, count in rows}
