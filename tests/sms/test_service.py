"""The SMS service and outbox worker on both databases, through the built-in log gateway."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from cti.errors import DomainError
from cti.sms.events import SmsReceived
from cti.sms.service import InboundSms, SmsRequest
from tests.sms.smstools import Sms, add_customer, make_sms, message, messages, settled

MOBILE = "+8613800138000"


@pytest.fixture
async def sms(db: async_sessionmaker[Any]) -> AsyncIterator[Sms]:
    made = make_sms(db)
    made.worker.start()
    yield made
    await made.worker.stop()


async def test_a_message_is_stored_then_sent_once_per_key(
    sms: Sms, db: async_sessionmaker[Any]
) -> None:
    first = await sms.service.send("13800138000", "Your table is booked.", key="booking:1")
    again = await sms.service.send(MOBILE, "Your table is booked.", key="booking:1")
    assert first.created
    assert not again.created
    assert again.id == first.id
    rows = await settled(sms, db)
    assert [(r.phone, r.status, r.attempts) for r in rows] == [(MOBILE, "sent", 1)]
    assert rows[0].provider_id.startswith("log-")
    assert rows[0].sent_at is not None


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("anonymous", "not a phone number"),
        ("+86 138", "not a phone number \\(invalid\\)"),
        ("+86 10 6552 9988", "landline"),
    ],
)
async def test_a_number_that_cannot_take_a_text_is_refused_at_once(
    sms: Sms, db: async_sessionmaker[Any], number: str, reason: str
) -> None:
    with pytest.raises(DomainError, match=reason):
        await sms.service.send(number, "hello")
    assert await messages(db) == []


async def test_empty_and_overlong_messages_are_refused(sms: Sms) -> None:
    with pytest.raises(DomainError, match="empty"):
        await sms.service.send(MOBILE, "   ")
    with pytest.raises(DomainError, match="11 SMS segments"):
        await sms.service.send(MOBILE, "x" * 153 * 11)


async def test_segments_and_encoding_are_recorded(sms: Sms, db: async_sessionmaker[Any]) -> None:
    queued = await sms.service.send(MOBILE, "您好，您的预约已确认" * 8)
    row = await message(db, queued.id)
    assert (row.encoding, row.segments) == ("UCS-2", 2)


async def test_quiet_hours_hold_a_message_until_morning_in_the_customers_zone(
    sms: Sms, db: async_sessionmaker[Any]
) -> None:
    customer = await add_customer(db, "Li Wei", MOBILE, timezone="Asia/Shanghai")
    sms.clock.advance(hours=12, minutes=30)  # 14:30 UTC: 22:30 in Shanghai
    queued = await sms.service.send(
        MOBILE, "We miss you", customer_id=customer, transactional=False
    )
    row = (await settled(sms, db))[0]
    assert (row.status, row.attempts, row.error_text) == ("pending", 0, "quiet hours")
    assert row.due_at.hour == 0  # 08:00 in Shanghai
    sms.clock.advance(hours=9, minutes=31)  # 08:01 in Shanghai
    sms.worker.wake()
    rows = await settled(sms, db)
    assert (rows[0].id, rows[0].status, rows[0].attempts) == (queued.id, "sent", 1)


async def test_opted_out_numbers_get_no_marketing_but_do_get_transactional_messages(
    sms: Sms, db: async_sessionmaker[Any]
) -> None:
    reply = await sms.service.receive(InboundSms("log", "in-1", MOBILE, "10690000", "STOP"))
    assert reply is not None
    assert "START" in reply
    promo = await sms.service.send(MOBILE, "Spring offer", transactional=False)
    receipt = await sms.service.send(MOBILE, "Your booking is confirmed")
    await settled(sms, db)
    assert (await message(db, promo.id)).status == "blocked"
    assert (await message(db, promo.id)).error_code == "opted-out"
    assert (await message(db, receipt.id)).status == "sent"


async def test_daily_cap_holds_the_fourth_marketing_message(
    sms: Sms, db: async_sessionmaker[Any]
) -> None:
    ids = [(await sms.service.send(MOBILE, f"offer {n}", transactional=False)).id for n in range(4)]
    rows = {r.id: r for r in await settled(sms, db)}
    assert [rows[i].status for i in ids] == ["sent", "sent", "sent", "pending"]
    assert rows[ids[3]].error_text == "daily cap reached"


async def test_stop_is_confirmed_once_and_start_opts_back_in(
    sms: Sms, db: async_sessionmaker[Any]
) -> None:
    first = await sms.service.receive(InboundSms("log", "a", MOBILE, "10690000", "stop"))
    second = await sms.service.receive(InboundSms("log", "b", MOBILE, "10690000", "STOP"))
    assert first == (
        "You will no longer receive messages from Harbour Hotel. Reply START to receive them again."
    )
    assert second is None
    assert await sms.service.opted_out(MOBILE)
    back = await sms.service.receive(InboundSms("log", "c", MOBILE, "10690000", "START"))
    assert back is not None
    assert "again" in back
    assert not await sms.service.opted_out(MOBILE)
    rows = await messages(db)
    assert [(r.direction, r.body[:5], r.status) for r in rows] == [
        ("in", "stop", "received"),
        ("out", "You w", "sent"),
        ("in", "STOP", "received"),
        ("in", "START", "received"),
        ("out", "You w", "sent"),
    ]


async def test_chinese_unsubscribe_is_answered_in_chinese(sms: Sms) -> None:
    reply = await sms.service.receive(InboundSms("log", "z", MOBILE, "10690000", "退订"))
    assert reply == "您已退订Harbour Hotel的短信。回复START可重新订阅。"
    assert await sms.service.opted_out(MOBILE)


async def test_a_repeated_webhook_stores_the_message_once(
    sms: Sms, db: async_sessionmaker[Any]
) -> None:
    inbound = InboundSms("log", "SM1", MOBILE, "10690000", "HELP")
    assert await sms.service.receive(inbound) is not None
    assert await sms.service.receive(inbound) is None
    assert [r.direction for r in await messages(db)] == ["in", "out"]


async def test_a_reply_reaches_the_customer_card_and_the_bus(
    sms: Sms, db: async_sessionmaker[Any]
) -> None:
    customer = await add_customer(db, "Li Wei", MOBILE)
    seen: list[SmsReceived] = []

    async def collect(event: SmsReceived) -> None:
        seen.append(event)

    sms.bus.subscribe("test", collect, SmsReceived)
    await sms.bus.start()
    try:
        assert await sms.service.receive(InboundSms("log", "x", "13800138000", "1069", "5")) is None
        await sms.bus.drain()
    finally:
        await sms.bus.stop(grace=1)
    assert [(e.customer_id, e.phone, e.body) for e in seen] == [(customer, MOBILE, "5")]
    history = await sms.service.history(customer)
    assert [(h.direction, h.body) for h in history] == [("in", "5")]


async def test_delivery_reports_only_move_forward(sms: Sms, db: async_sessionmaker[Any]) -> None:
    queued = await sms.service.send(MOBILE, "hello")
    await settled(sms, db)
    token = (await message(db, queued.id)).token
    assert await sms.service.report("delivered", token=token)
    assert await sms.service.report("sent", token=token)
    assert await sms.service.report("delivered", token=token)
    row = await message(db, queued.id)
    assert row.status == "delivered"
    assert not await sms.service.report("delivered", token="no-such-token")
    with pytest.raises(DomainError, match="unknown delivery status"):
        await sms.service.report("teleported", token=token)


async def test_racing_reports_end_at_the_furthest_status(
    sms: Sms, db: async_sessionmaker[Any]
) -> None:
    # An SMSC's ack and the delivery often arrive within the same millisecond, in either order.
    ids = [(await sms.service.send(MOBILE, f"hello {n}")).id for n in range(10)]
    await settled(sms, db)
    tokens = [(await message(db, i)).token for i in ids]
    await asyncio.gather(
        *(sms.service.report(status, token=t) for t in tokens for status in ("sent", "delivered")),
        *(sms.service.report(status, token=t) for t in tokens for status in ("delivered", "sent")),
    )
    assert {(await message(db, i)).status for i in ids} == {"delivered"}


async def test_many_messages_are_stored_at_once_each_key_once(
    sms: Sms, db: async_sessionmaker[Any]
) -> None:
    first = await sms.service.send(MOBILE, "Reminder", key="reminder:1")
    batch = await sms.service.send_many(
        [
            SmsRequest(MOBILE, "Reminder", key="reminder:1"),
            SmsRequest("+8613900139000", "Reminder", key="reminder:2"),
            SmsRequest("+8613900139000", "Reminder again", key="reminder:2"),
            SmsRequest("+8613700137000", "No key"),
        ]
    )
    assert [q.created for q in batch] == [False, True, False, True]
    assert batch[0].id == first.id
    assert batch[2].id == batch[1].id
    rows = await settled(sms, db)
    assert sorted(r.body for r in rows) == ["No key", "Reminder", "Reminder"]


async def test_a_batch_with_one_bad_number_is_refused_whole(
    sms: Sms, db: async_sessionmaker[Any]
) -> None:
    with pytest.raises(DomainError, match="message 2: 'nobody' is not a phone number"):
        await sms.service.send_many([SmsRequest(MOBILE, "a"), SmsRequest("nobody", "b")])
    assert await messages(db) == []
