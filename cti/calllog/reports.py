"""KPI reports per hour, day, week or month, per queue or per agent, from the call log.

The database sums calls per UTC hour and key (one aggregate query, index-friendly); the hours are
then folded into the viewer's periods in their time zone here, and business hours are applied per
hour. Breakdowns (outcome, hangup cause, disposition) are plain counts over the range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import Float, case, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.core.hours import WeeklyHours
from cti.core.kpi import KpiCounts, KpiSettings, QueueKpis
from cti.db.models import AgentPeriod, Call

Period = Literal["hour", "day", "week", "month"]
Group = Literal["queue", "agent"]
Breakdown = Literal["outcome", "hangup_cause", "disposition"]


@dataclass(frozen=True, slots=True)
class ReportRow:
    period: datetime
    key: str
    kpis: QueueKpis


def _hour_bucket(dialect: str) -> Any:
    if dialect == "postgresql":
        return func.date_trunc("hour", Call.enqueued_at)
    # SQLite keeps the instant as text, "YYYY-MM-DD HH:MM:SS...": its first 13 characters are
    # the hour, and cutting them is much cheaper than strftime over a month of calls.
    return func.substr(Call.enqueued_at, 1, 13)


def _as_utc(bucket: Any) -> datetime:
    if isinstance(bucket, datetime):
        return bucket.astimezone(UTC) if bucket.tzinfo else bucket.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(bucket)).replace(tzinfo=UTC)


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
    bucket = _hour_bucket(dialect).label("bucket")
    key_column = Call.queue if group == "queue" else Call.agent_name
    answered = Call.outcome == "answered"
    abandoned = Call.outcome == "abandoned"
    wait = func.coalesce(Call.wait_seconds, 0.0)

    def count(condition: Any) -> Any:
        return func.sum(case((condition, 1), else_=0))

    statement = (
        select(
            bucket,
            key_column.label("key"),
            func.count().label("offered"),
            count(answered).label("answered"),
            count(abandoned & (wait >= settings.short_abandon_seconds)).label("abandoned"),
            count(abandoned & (wait < settings.short_abandon_seconds)).label("short"),
            count(Call.outcome == "queue-timeout").label("timed_out"),
            count(Call.outcome == "no-agent").label("no_agent"),
            count(answered & (wait <= settings.service_level_seconds)).label("in_time"),
            func.sum(case((answered, wait), else_=0.0)).label("wait_total"),
            func.sum(
                case((answered, cast(func.coalesce(Call.talk_seconds, 0.0), Float)), else_=0.0)
            ).label("talk_total"),
            func.max(wait).label("longest"),
        )
        .where(
            # started_at bounds the scan with its index; no call waits a day to enter a queue.
            Call.started_at >= start - timedelta(days=1),
            Call.started_at < end,
            Call.enqueued_at >= start,
            Call.enqueued_at < end,
            Call.ended_at.is_not(None),  # a call still up has no outcome yet
            Call.queue != "",
            key_column != "",
        )
        .group_by(literal_column("bucket"), key_column)
    )
    folded: dict[tuple[datetime, str], KpiCounts] = {}
    for row in await session.execute(statement):
        hour = _as_utc(row.bucket)
        counts = KpiCounts()
        if hours.is_open(hour, zone):
            counts = KpiCounts(
                offered=int(row.offered),
                answered=int(row.answered or 0),
                abandoned=int(row.abandoned or 0),
                short=int(row.short or 0),
                timed_out=int(row.timed_out or 0),
                no_agent=int(row.no_agent or 0),
                in_time=int(row.in_time or 0),
                wait_total=float(row.wait_total or 0.0),
                talk_total=float(row.talk_total or 0.0),
                longest=float(row.longest or 0.0),
            )
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
