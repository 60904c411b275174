"""The call log writer on both databases: rows from real captures, idempotency, failed writes."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from cti.calllog.writer import CallLogWriter
from cti.core.events import CallEvent
from cti.core.kpi import KpiSettings
from cti.core.numbers import NumberRules
from cti.db import users
from cti.db.models import Call, Customer, PhoneNumber
from cti.directory import Directory
from cti.metrics import Metrics
from tests.calllog.sqlite_lock import locked, sqlite_file, stop_while_writing
from tests.core.test_model_from_traces import run

Db = async_sessionmaker[Any]


async def writer_for(db: Db, metrics: Metrics | None = None) -> CallLogWriter:
    directory = Directory()
    await directory.load(db)
    return CallLogWriter(
        db,
        directory=directory,
        devices_of=lambda pbx, interface: (interface, interface.removesuffix("/n")),
        rules={},
        default_rules=NumberRules("US"),
        metrics=metrics or Metrics(),
        report_settings=KpiSettings(20, 5, "answered-and-long-abandons", {}),
    )


async def seed(db: Db) -> int:
    async with db.begin() as session:
        await users.create_user(
            session,
            username="alice",
            display_name="Alice",
            role="agent",
            password="long enough password",
            devices=["Local/agent1@agents"],
        )
        customer = Customer(name="Jane Roe", salutation="Ms")
        customer.phones = [
            PhoneNumber(raw="+1 415 555 0100", e164="+14155550100", reversed_digits="00105551441")
        ]
        session.add(customer)
    async with db() as session:
        return int(await session.scalar(select(Customer.id)) or 0)


async def write_capture(writer: CallLogWriter, name: str) -> None:
    _, events = run(name)
    for event in events:
        await writer.handle(event)
    assert await writer.flush()


async def rows(db: Db) -> list[Call]:
    async with db() as session:
        return list(await session.scalars(select(Call).order_by(Call.started_at)))


async def test_an_answered_call_is_logged_with_customer_agent_and_times(db: Db) -> None:
    jane = await seed(db)
    writer = await writer_for(db)
    await write_capture(writer, "answered")
    (call,) = await rows(db)
    assert (call.direction, call.caller_number, call.caller_e164) == (
        "inbound",
        "+14155550100",
        "+14155550100",
    )
    assert (call.queue, call.agent_name, call.outcome, call.end_reason) == (
        "support",
        "Alice",
        "answered",
        "agent",
    )
    assert call.customer_id == jane
    assert call.agent_user_id is not None
    assert call.ring_seconds == pytest.approx(1.0, abs=0.05)
    assert call.talk_seconds == pytest.approx(3.5, abs=0.05)
    assert call.hangup_cause == 16


async def test_replaying_writes_the_same_rows_and_keeps_what_agents_wrote(db: Db) -> None:
    writer = await writer_for(db)
    for name in ("answered", "abandon", "rna", "anonymous"):
        await write_capture(writer, name)
    first = [(c.uniqueid, c.outcome) for c in await rows(db)]
    assert len(first) == 5
    async with db.begin() as session:
        await session.execute(update(Call).values(disposition="sale", notes="wants a callback"))
    for name in ("answered", "abandon", "rna", "anonymous"):
        await write_capture(writer, name)
    again = await rows(db)
    assert [(c.uniqueid, c.outcome) for c in again] == first
    assert {(c.disposition, c.notes) for c in again} == {("sale", "wants a callback")}


async def test_a_live_call_has_a_row_before_it_ends(db: Db) -> None:
    writer = await writer_for(db)
    await write_capture(writer, "restart")
    (call,) = await rows(db)
    assert (call.answered_at is not None, call.ended_at, call.outcome) == (True, None, "")


async def test_a_locked_database_delays_rows_and_loses_none(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    async with sqlite_file(path, busy_timeout_ms=50) as db:
        writer = await writer_for(db)
        _, events = run("answered")
        with locked(path):
            for event in events:
                await writer.handle(event)
            assert not await writer.flush(), "the write cannot succeed while the file is locked"
        assert await writer.flush()
        (call,) = await rows(db)
    assert call.outcome == "answered"
    assert sum(isinstance(e, CallEvent) for e in events) > 1


async def test_stopping_during_a_write_waits_for_it_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "slow.db"
    async with sqlite_file(path, busy_timeout_ms=5000) as db:
        metrics = Metrics()
        writer = await writer_for(db, metrics)
        writer.start()
        _, events = run("answered")
        with locked(path):
            for event in events:
                await writer.handle(event)
            # The batch has left the pending set: a write is under way, waiting for the lock.
            for _ in range(100):
                if metrics.value("cti_calllog_pending") == 0:
                    break
                await asyncio.sleep(0.01)
            assert metrics.value("cti_calllog_pending") == 0
            stopping = await stop_while_writing(writer.stop)
        await stopping
        (call,) = await rows(db)
    assert call.outcome == "answered"


async def test_each_agent_rung_is_kept_for_the_timeline(db: Db) -> None:
    writer = await writer_for(db)
    await write_capture(writer, "ringnoanswer")
    (call,) = await rows(db)
    assert call.attempts is not None
    assert sorted((a["agent"], a["result"]) for a in call.attempts) == [
        ("Carol", "answered-elsewhere"),
        ("Dave", "answered"),
    ]
