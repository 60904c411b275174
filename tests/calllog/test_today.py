"""Today's board on both databases: the day so far read back, then kept current by ended calls."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from cti.calllog.today import TodayBoard
from cti.core.events import CallEnded
from cti.core.hours import parse_weekly_hours
from cti.core.kpi import KpiSettings, Targets
from cti.db.models import Call
from cti.webapp.push import PushHub
from tests.clocks import Clock, just_after_midnight, midday
from tests.core.test_model_from_traces import run

Db = async_sessionmaker[Any]


def board(db: Db, hub: PushHub, clock: Clock, zone: str = "UTC") -> TodayBoard:
    return TodayBoard(
        db,
        hub,
        settings={"": KpiSettings(20, 5, "answered-and-long-abandons", {"support": 2})},
        hours=parse_weekly_hours({}),
        zone=ZoneInfo(zone),
        targets=Targets(0.8, 0.05, 60),
        clock=clock,
    )


def queue_call(uniqueid: str, at: datetime, outcome: str = "answered", wait: float = 1.0) -> Call:
    return Call(
        pbx="rig",
        uniqueid=uniqueid,
        direction="inbound",
        queue="support",
        started_at=at,
        enqueued_at=at,
        ended_at=at,
        outcome=outcome,
        wait_seconds=wait,
        talk_seconds=60.0,
    )


async def test_the_day_so_far_is_read_back_from_the_call_log(db: Db) -> None:
    clock = Clock(midday())
    async with db.begin() as session:
        for index, (outcome, wait) in enumerate(
            [("answered", 3.0), ("answered", 40.0), ("abandoned", 30.0), ("abandoned", 1.0)]
        ):
            session.add(queue_call(f"u{index}", clock.now, outcome, wait))
        session.add(queue_call("old", clock.now - timedelta(days=2)))
    today = board(db, PushHub(), clock)
    await today.load()
    (row,) = today.rows()
    assert (row["offered"], row["answered"], row["abandoned"], row["short_abandoned"]) == (
        4,
        2,
        1,
        1,
    )
    assert row["service_level"] == pytest.approx(1 / 3)
    assert row["aht"] == pytest.approx(62.0)
    assert row["grades"]["service_level"] == "alarm"


async def test_each_ended_call_updates_and_pushes_its_queue(db: Db) -> None:
    hub = PushHub()
    today = board(db, hub, Clock(midday()))
    await today.load()
    _, events = run("answered")
    for event in events:
        await today.handle(event)
    assert sum(isinstance(e, CallEnded) for e in events) == 1
    (message,) = hub.backlog("floor", 0)
    assert message["kind"] == "kpi"
    assert (message["data"]["queue"], message["data"]["answered"]) == ("support", 1)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
async def test_the_day_starts_at_midnight_in_the_configured_zone(db: Db, zone: str) -> None:
    """The board took the day from the machine's clock and zone: read in the first minutes
    after midnight, the calls placed minutes earlier were yesterday's."""
    clock = Clock(just_after_midnight(zone))
    async with db.begin() as session:
        session.add(queue_call("yesterday", clock.now - timedelta(seconds=150)))
        session.add(queue_call("today", clock.now - timedelta(seconds=30)))
    hub = PushHub()
    today = board(db, hub, clock, zone)
    await today.load()
    (row,) = today.rows()
    assert (row["offered"], row["answered"]) == (1, 1)

    clock.advance(days=1)
    _, events = run("answered")
    for event in events:
        await today.handle(event)
    assert [m["kind"] for m in hub.backlog("floor", 0)] == ["kpi-reset", "kpi"]
    (row,) = today.rows()
    assert (row["offered"], row["answered"]) == (1, 1), "the day before is gone"


async def test_a_call_read_back_or_announced_again_is_counted_once(db: Db) -> None:
    """The call log holds a call once, by its PBX and id: so does the board, whether the call
    was read back at start or its end is announced again (a later fact about it)."""
    clock = Clock(midday())
    async with db.begin() as session:
        session.add(queue_call("read-back", clock.now))
    today = board(db, PushHub(), clock)
    await today.load()
    _, events = run("answered")
    (ended,) = [e for e in events if isinstance(e, CallEnded)]
    again = CallEnded(dataclasses.replace(ended.call, pbx="rig", call_id="read-back"))
    for event in (ended, ended, again):
        await today.handle(event)
    (row,) = today.rows()
    assert row["offered"] == 2
