"""Finding the caller on both databases: exact, by last digits, several matches, none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cti.core.numbers import NumberRules, normalize
from cti.db import customers
from cti.db.card_lookup import CardLookup
from cti.db.models import Call
from cti.errors import ConflictError, DomainError

Db = async_sessionmaker[Any]
FR = NumberRules("FR")


async def add(db: Db, name: str, *numbers: str) -> int:
    async with db.begin() as session:
        return await customers.create_customer(
            session, {"name": name}, [(n, normalize(n, FR), "") for n in numbers]
        )


@pytest.fixture
async def lookup(engine: AsyncEngine, db: Db) -> AsyncIterator[CardLookup]:
    """The screen-pop's lookup: in a thread of its own on SQLite, on the async engine elsewhere."""
    cards = CardLookup(engine, busy_timeout_ms=5000)
    yield cards
    cards.close()


async def find(lookup: CardLookup, raw: str, region: str = "FR") -> list[str]:
    cards = await lookup.cards(
        normalize(raw, NumberRules(region)), 8, customers.MAX_MATCHES, withheld=True
    )
    return [card.name for card in cards]


async def test_exact_match_in_any_format(db: Db, lookup: CardLookup) -> None:
    await add(db, "Chloé Dubois", "01 42 68 53 00")
    await add(db, "Hugo Martin", "06 12 34 56 78")
    assert await find(lookup, "+33142685300") == ["Chloé Dubois"]
    assert await find(lookup, "0033 1 42 68 53 00") == ["Chloé Dubois"]
    assert await find(lookup, "011 33 1 42 68 53 00", region="US") == ["Chloé Dubois"]


async def test_last_digits_when_the_country_part_differs(db: Db, lookup: CardLookup) -> None:
    await add(db, "Chloé Dubois", "01 42 68 53 00")
    # A caller ID whose country and area part differ but whose last 8 digits are the same.
    assert await find(lookup, "+49 30 42685300", region="DE") == ["Chloé Dubois"]
    assert await find(lookup, "+49 30 42685301", region="DE") == []


async def test_several_customers_most_recent_contact_first(db: Db, lookup: CardLookup) -> None:
    older = await add(db, "Old Contact", "01 42 68 53 00")
    recent = await add(db, "Recent Contact", "01 42 68 53 00")
    never = await add(db, "Never Called", "01 42 68 53 00")
    now = datetime(2026, 11, 29, tzinfo=UTC)
    async with db.begin() as session:
        for customer_id, days in ((older, 30), (recent, 1)):
            session.add(
                Call(
                    pbx="p",
                    uniqueid=f"u{customer_id}",
                    direction="inbound",
                    customer_id=customer_id,
                    started_at=now - timedelta(days=days),
                )
            )
    assert await find(lookup, "+33142685300") == ["Recent Contact", "Old Contact", "Never Called"]
    assert never


@pytest.mark.parametrize("raw", ["", "anonymous", "12", "<script>", "+", "9" * 300, "١٢٣"])
async def test_no_match_and_garbage_never_raise(db: Db, lookup: CardLookup, raw: str) -> None:
    await add(db, "Chloé Dubois", "01 42 68 53 00")
    assert await find(lookup, raw) == []


async def test_merge_moves_numbers_and_calls_and_drops_the_duplicate(db: Db) -> None:
    keep = await add(db, "Chloé Dubois", "01 42 68 53 00")
    drop = await add(db, "C. Dubois", "01 42 68 53 00", "06 12 34 56 78")
    async with db.begin() as session:
        session.add(
            Call(
                pbx="p",
                uniqueid="x",
                direction="inbound",
                customer_id=drop,
                started_at=datetime(2026, 11, 1, tzinfo=UTC),
            )
        )
    async with db.begin() as session:
        await customers.merge(session, keep, drop)
    async with db() as session:
        connection = await session.connection()
        (card,) = await connection.run_sync(customers.load_cards, [keep], withheld=True)
        assert await connection.run_sync(customers.load_cards, [drop], withheld=True) == []
    assert sorted(e164 for _, e164, _ in card.phones) == ["+33142685300", "+33612345678"]
    assert len(card.last_calls) == 1
    with pytest.raises(DomainError, match="into itself"):
        async with db.begin() as session:
            await customers.merge(session, keep, keep)


async def test_a_number_cannot_be_added_twice_to_one_customer(db: Db) -> None:
    chloe = await add(db, "Chloé Dubois", "01 42 68 53 00")
    with pytest.raises(ConflictError, match="already one of this customer's numbers"):
        async with db.begin() as session:
            await customers.add_phone(session, chloe, "+33142685300", normalize("+33142685300"), "")
    with pytest.raises(DomainError, match="not a valid phone number"):
        async with db.begin() as session:
            await customers.add_phone(session, chloe, "12", normalize("12"), "")


async def test_a_withheld_callers_calls_stay_off_the_card_unless_they_may_be_seen(
    db: Db, lookup: CardLookup
) -> None:
    chloe = await add(db, "Chloé Dubois", "01 42 68 53 00")
    async with db.begin() as session:
        for minute, withheld in ((1, False), (2, True)):
            session.add(
                Call(
                    pbx="p",
                    uniqueid=f"x{minute}",
                    direction="inbound",
                    customer_id=chloe,
                    queue=f"q{minute}",
                    withheld=withheld,
                    started_at=datetime(2026, 11, 1, 9, minute, tzinfo=UTC),
                )
            )
    number = normalize("01 42 68 53 00", FR)
    for withheld, queues in ((True, ["q2", "q1"]), (False, ["q1"])):
        (card,) = await lookup.cards(number, 8, 5, withheld=withheld)
        assert [c.queue for c in card.last_calls] == queues
        async with db() as session:
            connection = await session.connection()
            (page,) = await connection.run_sync(customers.load_cards, [chloe], 1, withheld=withheld)
        assert [c.queue for c in page.last_calls] == queues[:1]
