"""KPI reports per hour, day, week or month, per queue or per agent, from the call log.

Calls are summed per UTC hour and key: hours a day old from the stored sums (cti.calllog.rollup),
the rest by an aggregate query; the hours are then folded into the viewer's periods in their time
zone here, and business hours are applied per hour. Breakdowns (outcome, hangup cause,
disposition) are plain counts over the range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.calllog import rollup
from cti.calllog.rollup import Group
from cti.core.hours import WeeklyHours
from cti.core.kpi import KpiCounts, KpiSettings, QueueKpis
from cti.db.models import AgentPeriod, Call

Period = Literal["hour", "day", "week", "month"]
Breakdown = Literal["outcome", "hangup_cause", "disposition"]


@dataclass(frozen=True, slots=True)
class ReportRow:
    period: datetime
    key: str
    kpis: QueueKpis


def period_start(moment: datetime, period: Period, zone: ZoneInfo) -> datetime:
    """The local start of the period holding `moment`."""
    local = moment.astimezone(zone)
    if period == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date()
    if period == "week":
        day -= timedelta(days=day.weekday())
    elif period == "month":
        day = day.replace(day=1)
    return datetime(day.year, day.month, day.day, tzinfo=zone)


async def kpi_report(
    session: AsyncSession,
    *,
    start: datetime,
    end: datetime,
    period: Period,
    group: Group,
    settings: KpiSettings,
    hours: WeeklyHours,
    zone: ZoneInfo,
) -> list[ReportRow]:
    dialect = session.get_bind().dialect.name
    summed = await rollup.summed_hours(session, settings, start, end)
    rows = list(await session.execute(rollup.summed(group, settings, start, end))) if summed else []
    for live_start, live_end in rollup.live_ranges(start, end, summed):
        statement = rollup.live_sums(dialect, group, settings, live_start, live_end)
        rows.extend(await session.execute(statement))
    folded: dict[tuple[datetime, str], KpiCounts] = {}
    for row in rows:
        hour = rollup.as_utc(row.bucket)
        counts = KpiCounts()
        if hours.is_open(hour, zone):
            counts = KpiCounts.of(row._mapping)
        else:
            counts.closed = int(row.offered)
        folded.setdefault((period_start(hour, period, zone), row.key), KpiCounts()).merge(counts)
    return [
        ReportRow(moment, key, counts.kpis(key, settings))
        for (moment, key), counts in sorted(folded.items())
    ]


async def breakdown(
    session: AsyncSession, *, start: datetime, end: datetime, by: Breakdown
) -> Sequence[tuple[str, int]]:
    column = {
        "outcome": Call.outcome,
        "hangup_cause": Call.hangup_cause,
        "disposition": Call.disposition,
    }[by]
    rows = await session.execute(
        select(column, func.count())
        .where(Call.started_at >= start, Call.started_at < end, Call.ended_at.is_not(None))
        .group_by(column)
        .order_by(func.count().desc())
    )
    return [("" if value is None else str(value), int(total)) for value, total in rows]


def day_range(first: date, last: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
    after = last + timedelta(days=1)
    return start, datetime(after.year, after.month, after.day, tzinfo=zone).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class AgentTime:
    agent: str
    logged_in: float
    by_state: dict[str, float]
    paused_by_reason: dict[str, float]


async def agent_time(session: AsyncSession, *, start: datetime, end: datetime) -> list[AgentTime]:
    """Seconds per agent in each state (paused split by reason) for stretches begun in range.
    Logged in is every state but unavailable."""
    seconds: Any
    if session.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", AgentPeriod.ended_at - AgentPeriod.started_at)
    else:
        seconds = (
            func.julianday(AgentPeriod.ended_at) - func.julianday(AgentPeriod.started_at)
        ) * 86400
    rows = await session.execute(
        select(
            AgentPeriod.agent_name, AgentPeriod.state, AgentPeriod.paused_reason, func.sum(seconds)
        )
        .where(AgentPeriod.started_at >= start, AgentPeriod.started_at < end)
        .group_by(AgentPeriod.agent_name, AgentPeriod.state, AgentPeriod.paused_reason)
    )
    states: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    reasons: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for agent, state, reason, total in rows:
        states[agent][state] += float(total or 0.0)
        if state == "paused":
            reasons[agent][reason or "–"] += float(total or 0.0)
    return [
        AgentTime(
            agent,
            sum(v for s, v in by_state.items() if s != "unavailable"),
            dict(by_state),
            dict(reasons[agent]),
        )
        for agent, by_state in sorted(states.items())
    ]
