"""KPI reports on both databases: hours folded into local days, weeks and months; breakdowns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from cti.calllog.reports import Period, breakdown, kpi_report
from cti.calllog.rollup import Group
from cti.core.hours import parse_weekly_hours
from cti.core.kpi import KpiSettings
from cti.db.models import Call

Db = async_sessionmaker[Any]
SHANGHAI = ZoneInfo("Asia/Shanghai")
SETTINGS = KpiSettings(20, 5, "answered-and-long-abandons", {"support": 10})
# 23:30 UTC on Sunday 29 is already Monday 30 November in Shanghai.
LATE_SUNDAY = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)


async def seed(db: Db) -> None:
    calls = [
        ("support", "Alice", LATE_SUNDAY, "answered", 10.0, 100.0, 16),
        ("support", "Alice", LATE_SUNDAY + timedelta(minutes=5), "answered", 30.0, 200.0, 16),
        ("support", "", LATE_SUNDAY + timedelta(minutes=10), "abandoned", 40.0, None, 0),
        ("support", "", LATE_SUNDAY + timedelta(minutes=11), "abandoned", 2.0, None, 0),
        ("sales", "Bob", LATE_SUNDAY - timedelta(hours=1), "answered", 5.0, 50.0, 16),
        ("support", "Bob", LATE_SUNDAY + timedelta(days=8), "answered", 1.0, 10.0, 17),
    ]
    async with db.begin() as session:
        for index, (queue, agent, at, outcome, wait, talk, cause) in enumerate(calls):
            session.add(
                Call(
                    pbx="p",
                    uniqueid=f"r{index}",
                    direction="inbound",
                    queue=queue,
                    agent_name=agent,
                    started_at=at,
                    enqueued_at=at,
                    ended_at=at,
                    outcome=outcome,
                    wait_seconds=wait,
                    talk_seconds=talk,
                    hangup_cause=cause,
                    disposition="sale" if index == 0 else "",
                )
            )


async def report(db: Db, period: Period, group: Group = "queue", hours: str = "") -> list[Any]:
    weekly = parse_weekly_hours({"mon": hours} if hours else {})
    async with db() as session:
        return await kpi_report(
            session,
            start=LATE_SUNDAY - timedelta(days=2),
            end=LATE_SUNDAY + timedelta(days=30),
            period=period,
            group=group,
            settings=SETTINGS,
            hours=weekly,
            zone=SHANGHAI,
        )


async def test_days_are_local_days(db: Db) -> None:
    await seed(db)
    rows = await report(db, "day")
    summary = [(r.period.date().isoformat(), r.key, r.kpis.offered, r.kpis.answered) for r in rows]
    assert summary == [
        ("2026-11-30", "sales", 1, 1),
        ("2026-11-30", "support", 4, 2),
        ("2026-12-08", "support", 1, 1),
    ]
    support = rows[1].kpis
    assert (support.abandoned, support.short_abandoned) == (1, 1)
    assert support.service_level == pytest.approx(1 / 3)
    assert support.asa_seconds == pytest.approx(20.0)
    assert support.aht_seconds == pytest.approx(160.0)


async def test_weeks_months_and_agents(db: Db) -> None:
    await seed(db)
    weeks = [(r.period.date().isoformat(), r.key) for r in await report(db, "week")]
    assert weeks == [("2026-11-30", "sales"), ("2026-11-30", "support"), ("2026-12-07", "support")]
    months = [
        (r.period.date().isoformat(), r.key, r.kpis.offered) for r in await report(db, "month")
    ]
    assert months == [
        ("2026-11-01", "sales", 1),
        ("2026-11-01", "support", 4),
        ("2026-12-01", "support", 1),
    ]
    agents = [(r.period.month, r.key, r.kpis.answered) for r in await report(db, "month", "agent")]
    assert agents == [(11, "Alice", 2), (11, "Bob", 1), (12, "Bob", 1)]


async def test_an_agents_aht_has_the_wrap_up_of_each_calls_queue(db: Db) -> None:
    """Bob took a sales call (no wrap-up) and a support one (10 s): AHT as in docs/kpi.md."""
    await seed(db)
    whole = await report(db, "month", "agent")
    bob = [r.kpis for r in whole if r.key == "Bob"]
    assert [k.aht_seconds for k in bob] == [pytest.approx(50.0), pytest.approx(10.0 + 10)]
    alice = next(r.kpis for r in whole if r.key == "Alice")
    assert alice.aht_seconds == pytest.approx(150.0 + 10)


async def test_closed_hours_are_left_out_of_the_rates(db: Db) -> None:
    await seed(db)
    rows = await report(db, "day", hours="09:00-18:00")  # 07:30 in Shanghai is before opening
    (monday_support,) = [r for r in rows if r.key == "support" and r.period.day == 30]
    assert (monday_support.kpis.offered, monday_support.kpis.out_of_hours) == (0, 4)


async def test_breakdowns_count_every_call(db: Db) -> None:
    await seed(db)
    async with db() as session:
        start, end = LATE_SUNDAY - timedelta(days=2), LATE_SUNDAY + timedelta(days=30)
        outcomes = dict(await breakdown(session, start=start, end=end, by="outcome"))
        causes = dict(await breakdown(session, start=start, end=end, by="hangup_cause"))
        dispositions = dict(await breakdown(session, start=start, end=end, by="disposition"))
    assert outcomes == {"answered": 4, "abandoned": 2}
    assert causes == {"16": 3, "0": 2, "17": 1}
    assert dispositions == {"": 5, "sale": 1}


async def test_calls_still_up_are_not_in_reports(db: Db) -> None:
    await seed(db)
    async with db.begin() as session:
        session.add(
            Call(
                pbx="p",
                uniqueid="live",
                direction="inbound",
                queue="support",
                started_at=LATE_SUNDAY,
                enqueued_at=LATE_SUNDAY,
                outcome="",
            )
        )
    rows = await report(db, "day")
    assert [r.kpis.offered for r in rows if r.key == "support"] == [4, 1]
    async with db() as session:
        start, end = LATE_SUNDAY - timedelta(days=2), LATE_SUNDAY + timedelta(days=30)
        outcomes = dict(await breakdown(session, start=start, end=end, by="outcome"))
    assert "" not in outcomes
