"""Reports read hours a day old from stored sums and agree with the calls, edges and late calls
included."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from cti.calllog import rollup
from cti.calllog.reports import Period, kpi_report
from cti.calllog.rollup import Group
from cti.calllog.writer import CallLogWriter
from cti.core.events import CallEnded, CallSnapshot, Direction, Outcome
from cti.core.hours import parse_weekly_hours
from cti.core.kpi import KpiSettings
from cti.core.numbers import NumberRules
from cti.db.models import Call, CallHour, CallHourMark
from cti.directory import Directory
from cti.metrics import Metrics

Db = async_sessionmaker[Any]
SETTINGS = KpiSettings(20, 5, "answered-and-long-abandons", {"support": 10})
FIRST = datetime(2026, 10, 1, tzinfo=UTC)
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
# Half an hour off UTC: its local days cut UTC hours in two.
KOLKATA = ZoneInfo("Asia/Kolkata")


async def seed(db: Db, count: int = 3000) -> None:
    rng = random.Random(3)
    span = (NOW - FIRST).total_seconds()
    async with db.begin() as session:
        for index in range(count):
            at = FIRST + timedelta(seconds=rng.uniform(0, span))
            outcome = rng.choice(
                ("answered",) * 6
                + ("abandoned", "queue-timeout", "no-agent", "pbx-restart", "link-down")
            )
            # Some answered calls ended while the link was down: their talk is unknown.
            unseen = outcome == "link-down" or (outcome == "answered" and rng.random() < 0.1)
            session.add(
                Call(
                    pbx="p",
                    uniqueid=f"c{index}",
                    direction="inbound",
                    queue=rng.choice(("support", "sales")),
                    agent_name=rng.choice(("Alice", "Bob", "Chen"))
                    if outcome == "answered"
                    else "",
                    started_at=at,
                    enqueued_at=at + timedelta(seconds=2),
                    ended_at=at + timedelta(minutes=3),
                    outcome=outcome,
                    wait_seconds=rng.uniform(0, 60),
                    talk_seconds=rng.uniform(20, 400) if outcome == "answered" else None,
                    end_source="outage" if unseen else "",
                )
            )


async def report(db: Db, period: Period, group: Group, zone: ZoneInfo) -> list[Any]:
    async with db() as session:
        return await kpi_report(
            session,
            start=datetime(2026, 10, 3, tzinfo=zone).astimezone(UTC),
            end=datetime(2026, 11, 29, tzinfo=zone).astimezone(UTC),
            period=period,
            group=group,
            settings=SETTINGS,
            hours=parse_weekly_hours({"mon": "09:00-18:00", "tue": "09:00-18:00"}),
            zone=zone,
        )


def rounded(rows: list[Any]) -> list[tuple[Any, ...]]:
    """Rows with their floats rounded: sums added in another order differ in the last bits."""
    return [
        (
            row.period,
            row.key,
            *(
                round(value, 6) if isinstance(value, float) else value
                for value in dataclasses.astuple(row.kpis)
            ),
        )
        for row in rows
    ]


async def sum_everything(db: Db) -> int:
    total = 0
    while True:
        async with db.begin() as session:
            done = await rollup.refresh(session, SETTINGS, NOW, max_hours=24 * 10)
        total += done
        if not done:
            return total


@pytest.mark.parametrize("zone", [ZoneInfo("UTC"), KOLKATA], ids=["utc", "kolkata"])
@pytest.mark.parametrize(("period", "group"), [("day", "queue"), ("month", "agent")])
async def test_a_report_from_stored_sums_equals_one_from_the_calls(
    db: Db, zone: ZoneInfo, period: Period, group: Group
) -> None:
    await seed(db)
    live = await report(db, period, group, zone)
    summed = await sum_everything(db)
    async with db() as session:
        first = rollup.as_utc(await session.scalar(select(func.min(Call.started_at))))
    # Every hour from the first call to a day before now, empty hours included.
    assert summed == int(
        (rollup.floor_hour(NOW - rollup.ROLLUP_AGE) - rollup.floor_hour(first)).total_seconds()
        // 3600
    )
    assert live
    if group == "queue":  # an agent has no unanswered calls
        assert any(row.kpis.cut_off for row in live)
        assert any(row.kpis.unknown for row in live)
    assert rounded(await report(db, period, group, zone)) == rounded(live)


async def test_sums_are_made_a_day_at_a_time_and_only_for_hours_a_day_old(db: Db) -> None:
    await seed(db, 300)
    async with db.begin() as session:
        assert await rollup.refresh(session, SETTINGS, NOW, max_hours=24) == 24
    await sum_everything(db)
    async with db() as session:
        last: datetime | None = await session.scalar(select(func.max(CallHourMark.hour)))
        rows: int = await session.scalar(select(func.count()).select_from(CallHour))
    assert last is not None
    assert rollup.as_utc(last) == rollup.floor_hour(NOW - rollup.ROLLUP_AGE) - rollup.HOUR
    assert rows > 0


async def test_a_call_written_late_into_a_summed_hour_is_counted(db: Db) -> None:
    await seed(db, 500)
    await sum_everything(db)
    before = await report(db, "month", "queue", ZoneInfo("UTC"))
    writer = CallLogWriter(
        db,
        directory=Directory(),
        devices_of=lambda pbx, interface: (interface,),
        rules={},
        default_rules=NumberRules("US"),
        metrics=Metrics(),
        report_settings=SETTINGS,
        clock=lambda: NOW,
    )
    # A call from October that the PBX reports only now (it was down for weeks).
    old = datetime(2026, 10, 20, 10, 15, tzinfo=UTC)
    call = CallSnapshot(
        pbx="p",
        call_id="late-1",
        linkedid="late-1",
        direction=Direction.INBOUND,
        number="+14155550100",
        name="",
        withheld=False,
        queue="support",
        agent_interface="",
        agent_name="",
        started_at=old,
        enqueued_at=old,
        dequeued_at=old + timedelta(seconds=30),
        first_ring_at=None,
        answered_at=None,
        ended_at=old + timedelta(seconds=30),
        outcome=Outcome.ABANDONED,
        hangup_cause=16,
        end_reason="caller",
        recording="",
        attempts=(),
    )
    await writer.handle(CallEnded(call))
    assert await writer.flush()
    after = await report(db, "month", "queue", ZoneInfo("UTC"))
    october = {r.key: r.kpis.offered for r in before if r.period.month == 10}
    october_after = {r.key: r.kpis.offered for r in after if r.period.month == 10}
    assert october_after == {**october, "support": october["support"] + 1}
    await sum_everything(db)
    assert rounded(await report(db, "month", "queue", ZoneInfo("UTC"))) == rounded(after)
