"""Today's board on both databases: the day so far read back, then kept current by ended calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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
from tests.core.test_model_from_traces import run

Db = async_sessionmaker[Any]


def board(db: Db, hub: PushHub) -> TodayBoard:
    return TodayBoard(
        db,
        hub,
        settings={"": KpiSettings(20, 5, "answered-and-long-abandons", {"support": 2})},
        hours=parse_weekly_hours({}),
        zone=ZoneInfo("UTC"),
        targets=Targets(0.8, 0.05, 60),
    )


async def test_the_day_so_far_is_read_back_from_the_call_log(db: Db) -> None:
    now = datetime.now(UTC)
    async with db.begin() as session:
        for index, (outcome, wait) in enumerate(
            [("answered", 3.0), ("answered", 40.0), ("abandoned", 30.0), ("abandoned", 1.0)]
        ):
            session.add(
                Call(
                    pbx="rig",
                    uniqueid=f"u{index}",
                    direction="inbound",
                    queue="support",
                    started_at=now,
                    enqueued_at=now,
                    ended_at=now,
                    outcome=outcome,
                    wait_seconds=wait,
                    talk_seconds=60.0,
                )
            )
        session.add(
            Call(
                pbx="rig",
                uniqueid="old",
                direction="inbound",
                queue="support",
                started_at=now - timedelta(days=2),
                enqueued_at=now - timedelta(days=2),
                ended_at=now - timedelta(days=2),
                outcome="answered",
                wait_seconds=1.0,
            )
        )
    today = board(db, PushHub())
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
    today = board(db, hub)
    await today.load()
    _, events = run("answered")
    for event in events:
        await today.handle(event)
    assert sum(isinstance(e, CallEnded) for e in events) == 1
    (message,) = hub.backlog("floor", 0)
    assert message["kind"] == "kpi"
    assert (message["data"]["queue"], message["data"]["answered"]) == ("support", 1)
