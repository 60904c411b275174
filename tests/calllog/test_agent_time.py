"""Agent time accounting on both databases: stretches per state from the live agent events."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from cti.calllog.agent_time import FLUSH_SECONDS, AgentTimeWriter
from cti.calllog.reports import agent_time
from cti.core.events import AgentChanged, AgentSnapshot, AgentState
from tests.calllog.sqlite_lock import locked, sqlite_file, stop_while_writing

Db = async_sessionmaker[Any]
NINE = datetime(2026, 11, 30, 9, tzinfo=UTC)
ALICE = AgentSnapshot(
    "p", "PJSIP/1001", "Alice", "PJSIP/1001", ("support",), (), AgentState.AVAILABLE, NINE, "", ""
)


def at(
    minutes: int, state: AgentState, reason: str = "", queues: tuple[str, ...] = ("support",)
) -> AgentChanged:
    return AgentChanged(
        replace(
            ALICE,
            state=state,
            since=NINE + timedelta(minutes=minutes),
            paused_reason=reason,
            queues=queues,
        )
    )


async def test_a_morning_is_accounted_state_by_state(db: Db) -> None:
    writer = AgentTimeWriter(db)
    for event in (
        at(0, AgentState.AVAILABLE),
        at(10, AgentState.RINGING),
        at(11, AgentState.IN_CALL),
        at(20, AgentState.WRAP_UP),
        at(21, AgentState.AVAILABLE),
        at(30, AgentState.PAUSED, "lunch"),
        at(30, AgentState.PAUSED, "lunch"),  # a repeat changes nothing
        at(60, AgentState.PAUSED, "training"),
        at(75, AgentState.UNAVAILABLE),
        at(80, AgentState.AVAILABLE, queues=()),  # left the last queue: logged out
    ):
        await writer.handle(event)
    assert await writer.flush()
    async with db() as session:
        (alice,) = await agent_time(session, start=NINE, end=NINE + timedelta(hours=2))
    minutes = {state: seconds / 60 for state, seconds in alice.by_state.items()}
    assert minutes == pytest.approx(
        {"available": 19, "ringing": 1, "in-call": 9, "wrap-up": 1, "paused": 45, "unavailable": 5}
    )
    assert {r: s / 60 for r, s in alice.paused_by_reason.items()} == pytest.approx(
        {"lunch": 30, "training": 15}
    )
    assert alice.logged_in / 60 == pytest.approx(75)


async def test_shutdown_closes_the_open_stretch(db: Db) -> None:
    writer = AgentTimeWriter(db)
    now = datetime.now(UTC)
    await writer.handle(AgentChanged(replace(ALICE, since=now - timedelta(minutes=5))))
    await writer.stop()
    async with db() as session:
        (alice,) = await agent_time(
            session, start=now - timedelta(hours=1), end=now + timedelta(hours=1)
        )
    assert alice.by_state["available"] / 60 == pytest.approx(5, abs=0.1)


async def test_stopping_during_a_write_waits_for_it_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "slow.db"
    async with sqlite_file(path, busy_timeout_ms=5000) as db:
        writer = AgentTimeWriter(db)
        writer.start()
        with locked(path):
            await writer.handle(at(0, AgentState.AVAILABLE))
            await writer.handle(at(10, AgentState.PAUSED, "lunch"))
            await asyncio.sleep(FLUSH_SECONDS + 0.3)  # the periodic write has begun, and waits
            stopping = await stop_while_writing(writer.stop)
        await stopping
        async with db() as session:
            (alice,) = await agent_time(session, start=NINE, end=NINE + timedelta(minutes=10))
    assert alice.by_state == pytest.approx({"available": 600.0})
