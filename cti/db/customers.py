"""Customers as agents see them: found by any number format, shown with their history."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cti.core.numbers import Number, reversed_digits
from cti.db.models import Call, Customer, PhoneNumber
from cti.errors import ConflictError, DomainError, NotFoundError

MAX_MATCHES = 20

# The statements of a screen-pop's lookup, built once: building them per call cost more than
# running them.
_BY_E164 = (
    select(PhoneNumber.customer_id).where(PhoneNumber.e164 == bindparam("e164")).limit(MAX_MATCHES)
)
_BY_SUFFIX = (
    select(PhoneNumber.customer_id)
    .where(
        PhoneNumber.reversed_digits >= bindparam("low"),
        PhoneNumber.reversed_digits < bindparam("high"),
    )
    .limit(MAX_MATCHES)
)
_RECENCY = (
    select(Customer.id, Customer.updated_at, func.max(Call.started_at))
    .outerjoin(Call, Call.customer_id == Customer.id)
    .where(Customer.id.in_(bindparam("ids", expanding=True)))
    .group_by(Customer.id, Customer.updated_at)
)
# Cards are read as plain rows, not ORM objects: identity-mapped customers with their phones cost
# a pop more than the queries themselves.
_CUSTOMERS = select(
    Customer.id,
    Customer.external_id,
    Customer.name,
    Customer.salutation,
    Customer.language,
    Customer.timezone,
    Customer.segment,
    Customer.vip,
    Customer.tags,
    Customer.notes,
    Customer.preferences,
    Customer.email,
).where(Customer.id.in_(bindparam("ids", expanding=True)))
_PHONES = (
    select(PhoneNumber.customer_id, PhoneNumber.raw, PhoneNumber.e164, PhoneNumber.label)
    .where(PhoneNumber.customer_id.in_(bindparam("ids", expanding=True)))
    .order_by(PhoneNumber.id)
)


def _history(withheld: bool) -> Select[Any]:
    """Every card's history in one query: the latest calls of each customer, those of a
    withheld caller only if `withheld` (for the roles that may see them)."""
    where = [Call.customer_id.in_(bindparam("ids", expanding=True))]
    if not withheld:
        where.append(Call.withheld.is_(False))
    ranked = (
        select(
            Call.customer_id,
            Call.started_at,
            Call.direction,
            Call.queue,
            Call.agent_name,
            Call.outcome,
            Call.disposition,
            Call.notes,
            func.row_number()
            .over(partition_by=Call.customer_id, order_by=Call.started_at.desc())
            .label("rank"),
        )
        .where(*where)
        .subquery()
    )
    return (
        select(
            ranked.c.customer_id,
            ranked.c.started_at,
            ranked.c.direction,
            ranked.c.queue,
            ranked.c.agent_name,
            ranked.c.outcome,
            ranked.c.disposition,
            ranked.c.notes,
        )
        .where(ranked.c.rank <= bindparam("calls"))
        .order_by(ranked.c.started_at.desc())
    )


_HISTORY = {shown: _history(shown) for shown in (True, False)}


@dataclass(frozen=True, slots=True)
class PastCall:
    started_at: datetime
    direction: str
    queue: str
    agent_name: str
    outcome: str
    disposition: str
    notes: str


@dataclass(frozen=True, slots=True)
class Card:
    id: int
    external_id: str
    name: str
    salutation: str
    language: str
    timezone: str
    segment: str
    vip: bool
    tags: list[str]
    notes: str
    preferences: dict[str, Any]
    email: str
    phones: list[tuple[str, str, str]]
    last_contact: datetime | None
    last_calls: list[PastCall]

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "name": self.name,
            "salutation": self.salutation,
            "language": self.language,
            "segment": self.segment,
            "vip": self.vip,
            "tags": self.tags,
            "notes": self.notes,
            "preferences": self.preferences,
            "phones": [{"raw": r, "e164": e, "label": label} for r, e, label in self.phones],
            "last_calls": [
                {
                    "started_at": c.started_at.isoformat(),
                    "direction": c.direction,
                    "queue": c.queue,
                    "agent": c.agent_name,
                    "outcome": c.outcome,
                    "disposition": c.disposition,
                    "notes": c.notes,
                }
                for c in self.last_calls
            ],
        }


# Lookups are synchronous, on a Core connection (the ORM's per-statement machinery cost more than
# the queries): the screen-pop runs them in a thread in one go (cti.db.card_lookup), pages
# through AsyncConnection.run_sync.


def pop_cards(
    connection: Connection, number: Number, suffix_digits: int, limit: int, *, withheld: bool
) -> list[Card]:
    """The cards a screen-pop shows for a caller: at most `limit`, most recent contact first."""
    ids = find_by_number(connection, number, suffix_digits)[:limit]
    return load_cards(connection, ids, withheld=withheld)


def find_by_number(connection: Connection, number: Number, suffix_digits: int) -> list[int]:
    """Customers holding this number, most recently contacted first: exact E.164, else by suffix."""
    if not number.known:
        return []
    ids = list(connection.scalars(_BY_E164, {"e164": number.e164}))
    if not ids:
        # The digits reversed make "ends with" an indexed range scan on both databases.
        start = reversed_digits(number.e164)[:suffix_digits]
        ids = list(connection.scalars(_BY_SUFFIX, {"low": start, "high": start + ":"}))
    return by_recent_contact(connection, list(dict.fromkeys(ids)))


def by_recent_contact(connection: Connection, ids: list[int]) -> list[int]:
    if len(ids) < 2:
        return ids
    rows = connection.execute(_RECENCY, {"ids": ids})
    # Customers ever called come first, latest call first; then the latest edited.
    recency = {
        customer_id: (1, called.timestamp()) if called else (0, edited.timestamp())
        for customer_id, edited, called in rows
    }
    return sorted(ids, key=lambda customer_id: recency.get(customer_id, (0, 0.0)), reverse=True)


def search(connection: Connection, text: str, number: Number, suffix_digits: int) -> list[int]:
    """Customers whose name contains `text`, or who hold the number it spells."""
    by_number = find_by_number(connection, number, suffix_digits) if number.known else []
    words = text.strip()
    by_name: Sequence[int] = []
    if words:
        pattern = f"%{words.replace('%', '').replace('_', '')}%"
        by_name = list(
            connection.scalars(
                select(Customer.id)
                .where(or_(Customer.name.ilike(pattern), Customer.external_id == words))
                .order_by(Customer.name)
                .limit(MAX_MATCHES)
            )
        )
    return list(dict.fromkeys([*by_number, *by_name]))[:MAX_MATCHES]


def load_cards(
    connection: Connection, ids: list[int], calls: int = 5, *, withheld: bool
) -> list[Card]:
    """The customers' cards in the order of `ids`, each with its `calls` latest calls (with
    the calls of withheld callers only if `withheld`)."""
    if not ids:
        return []
    customers = {row.id: row for row in connection.execute(_CUSTOMERS, {"ids": ids})}
    phones: dict[int, list[tuple[str, str, str]]] = {}
    for customer_id, raw, e164, label in connection.execute(_PHONES, {"ids": ids}):
        phones.setdefault(customer_id, []).append((raw, e164, label))
    history: dict[int, list[PastCall]] = {}
    rows = connection.execute(_HISTORY[withheld], {"ids": ids, "calls": calls})
    for customer_id, *call in rows:
        history.setdefault(customer_id, []).append(PastCall(*call))
    cards = []
    for customer_id in ids:
        customer = customers.get(customer_id)
        if customer is None:
            continue
        past = history.get(customer_id, [])
        cards.append(
            Card(
                id=customer.id,
                external_id=customer.external_id or "",
                name=customer.name,
                salutation=customer.salutation,
                language=customer.language,
                timezone=customer.timezone,
                segment=customer.segment,
                vip=customer.vip,
                tags=list(customer.tags),
                notes=customer.notes,
                preferences=dict(customer.preferences),
                email=customer.email,
                phones=phones.get(customer_id, []),
                last_contact=past[0].started_at if past else None,
                last_calls=past,
            )
        )
    return cards


async def _customer(session: AsyncSession, customer_id: int) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"no customer {customer_id}")
    return customer


async def create_customer(
    session: AsyncSession, values: dict[str, Any], phones: list[tuple[str, Number, str]]
) -> int:
    if not values.get("name"):
        raise DomainError("a customer needs a name")
    external_id = values.get("external_id") or None
    if external_id and await session.scalar(
        select(Customer.id).where(Customer.external_id == external_id)
    ):
        raise ConflictError(f"external id {external_id!r} already belongs to a customer")
    customer = Customer(**{**values, "external_id": external_id})
    customer.phones = [_phone(raw, number, label) for raw, number, label in phones]
    session.add(customer)
    await session.flush()
    for phone in customer.phones:
        await _claim_calls(session, customer.id, phone.e164)
    return customer.id


async def _claim_calls(session: AsyncSession, customer_id: int, e164: str) -> None:
    """Call log rows from this number that have no customer yet now belong to this one."""
    await session.execute(
        update(Call)
        .where(Call.caller_e164 == e164, Call.customer_id.is_(None))
        .values(customer_id=customer_id)
    )


async def phone_ids(session: AsyncSession, customer_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(PhoneNumber.e164, PhoneNumber.id).where(PhoneNumber.customer_id == customer_id)
    )
    return {e164: phone_id for e164, phone_id in rows}


async def update_customer(session: AsyncSession, customer_id: int, values: dict[str, Any]) -> None:
    customer = await _customer(session, customer_id)
    if "name" in values and not values["name"]:
        raise DomainError("a customer needs a name")
    external_id = values.get("external_id") or None
    if external_id and await session.scalar(
        select(Customer.id).where(Customer.external_id == external_id, Customer.id != customer_id)
    ):
        raise ConflictError(f"external id {external_id!r} already belongs to another customer")
    for name, value in values.items():
        setattr(customer, name, external_id if name == "external_id" else value)


def _phone(raw: str, number: Number, label: str) -> PhoneNumber:
    if not number.known:
        raise DomainError(f"{raw!r} is not a valid phone number ({number.kind.value})")
    return PhoneNumber(
        raw=raw[:64],
        e164=number.e164,
        reversed_digits=reversed_digits(number.e164),
        label=label[:40],
    )


async def add_phone(
    session: AsyncSession, customer_id: int, raw: str, number: Number, label: str
) -> None:
    await _customer(session, customer_id)
    phone = _phone(raw, number, label)
    if await session.scalar(
        select(PhoneNumber.id).where(
            PhoneNumber.customer_id == customer_id, PhoneNumber.e164 == phone.e164
        )
    ):
        raise ConflictError(f"{phone.e164} is already one of this customer's numbers")
    phone.customer_id = customer_id
    session.add(phone)
    await _claim_calls(session, customer_id, phone.e164)


async def remove_phone(session: AsyncSession, customer_id: int, phone_id: int) -> None:
    result = await session.execute(
        delete(PhoneNumber).where(
            PhoneNumber.id == phone_id, PhoneNumber.customer_id == customer_id
        )
    )
    if not getattr(result, "rowcount", 0):
        raise NotFoundError(f"customer {customer_id} has no number {phone_id}")


async def merge(session: AsyncSession, keep_id: int, drop_id: int) -> None:
    """Fold a duplicate into `keep_id`: its numbers, calls, tags, notes and preferences."""
    if keep_id == drop_id:
        raise DomainError("a customer cannot be merged into itself")
    keep = await _customer(session, keep_id)
    drop = await _customer(session, drop_id)
    kept_numbers = set(
        await session.scalars(select(PhoneNumber.e164).where(PhoneNumber.customer_id == keep_id))
    )
    await session.execute(
        delete(PhoneNumber).where(
            PhoneNumber.customer_id == drop_id, PhoneNumber.e164.in_(kept_numbers)
        )
    )
    await session.execute(
        update(PhoneNumber).where(PhoneNumber.customer_id == drop_id).values(customer_id=keep_id)
    )
    await session.execute(
        update(Call).where(Call.customer_id == drop_id).values(customer_id=keep_id)
    )
    keep.tags = sorted(set(keep.tags) | set(drop.tags))
    keep.preferences = {**drop.preferences, **keep.preferences}
    if drop.notes and drop.notes not in keep.notes:
        keep.notes = f"{keep.notes}\n{drop.notes}".strip()
    for name in ("salutation", "language", "timezone", "segment", "email"):
        if not getattr(keep, name):
            setattr(keep, name, getattr(drop, name))
    keep.vip = keep.vip or drop.vip
    external_id = drop.external_id
    await session.delete(drop)
    await session.flush()
    if not keep.external_id and external_id:
        keep.external_id = external_id
