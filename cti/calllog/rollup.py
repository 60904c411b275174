"""Hourly sums of the call log for reports: what a month's report adds up, added up once.

An hour is summed once it is `ROLLUP_AGE` old, when its calls have ended, per queue and per agent,
for the configured thresholds; a report takes the summed hours from `call_hours` and the rest
(recent hours, hours cut by the report's edges) live from the calls. A call written later into a
summed hour (a PBX back after days) drops that hour's sums, to be made again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from sqlalchemy import Float, case, cast, delete, func, insert, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from cti.core.events import EndSource, Outcome
from cti.core.kpi import SUMMED_COUNTS, KpiSettings
from cti.db.models import Call, CallHour, CallHourMark

Group = Literal["queue", "agent"]
ROLLUP_AGE: Final = timedelta(days=1)
HOUR: Final = timedelta(hours=1)
# Every column of call_hours a report reads, as named in KpiCounts.
SUMS: Final = (*SUMMED_COUNTS, "longest")


def thresholds(settings: KpiSettings) -> str:
    """What the sums depend on besides the calls: after a change, sums are made anew."""
    wrapup = ",".join(f"{q}={s}" for q, s in sorted(settings.wrapup_seconds.items()) if s)
    digest = hashlib.sha256(wrapup.encode()).hexdigest()[:8]
    return f"{settings.short_abandon_seconds}/{settings.service_level_seconds}/{digest}"


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_bucket(dialect: str) -> Any:
    if dialect == "postgresql":
        return func.date_trunc("hour", Call.enqueued_at)
    # SQLite keeps the instant as text, "YYYY-MM-DD HH:MM:SS...": its first 13 characters are
    # the hour, and cutting them is much cheaper than strftime over a month of calls.
    return func.substr(Call.enqueued_at, 1, 13)


def as_utc(bucket: Any) -> datetime:
    if isinstance(bucket, datetime):
        return bucket.astimezone(UTC) if bucket.tzinfo else bucket.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(bucket)).replace(tzinfo=UTC)


def live_sums(
    dialect: str, group: Group, settings: KpiSettings, start: datetime, end: datetime
) -> Any:
    """Ended queue calls that entered the queue in [start, end), summed per hour and key."""
    bucket = hour_bucket(dialect).label("bucket")
    key_column = Call.queue if group == "queue" else Call.agent_name
    answered = Call.outcome == Outcome.ANSWERED.value
    abandoned = Call.outcome == Outcome.ABANDONED.value
    # An answered call whose end was not seen has no known talk time.
    talked = answered & (Call.end_source != EndSource.OUTAGE.value)
    wait = func.coalesce(Call.wait_seconds, 0.0)
    wrapups = {queue: float(s) for queue, s in settings.wrapup_seconds.items() if s}
    wrapup = case(wrapups, value=Call.queue, else_=0.0) if wrapups else literal_column("0.0")

    def count(condition: ColumnElement[bool]) -> Any:
        return func.sum(case((condition, 1), else_=0))

    return (
        select(
            bucket,
            key_column.label("key"),
            func.count().label("offered"),
            count(answered).label("answered"),
            count(abandoned & (wait >= settings.short_abandon_seconds)).label("abandoned"),
            count(abandoned & (wait < settings.short_abandon_seconds)).label("short"),
            count(Call.outcome == Outcome.QUEUE_TIMEOUT.value).label("timed_out"),
            count(Call.outcome == Outcome.NO_AGENT.value).label("no_agent"),
            count(Call.outcome == Outcome.PBX_RESTART.value).label("cut"),
            count(Call.outcome == Outcome.LINK_DOWN.value).label("unseen"),
            count(answered & (wait <= settings.service_level_seconds)).label("in_time"),
            count(talked).label("talked"),
            func.sum(case((answered, wait), else_=0.0)).label("wait_total"),
            func.sum(
                case((talked, cast(func.coalesce(Call.talk_seconds, 0.0), Float)), else_=0.0)
            ).label("talk_total"),
            func.sum(case((talked, wrapup), else_=0.0)).label("wrapup_total"),
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


def summed(group: Group, settings: KpiSettings, start: datetime, end: datetime) -> Any:
    """The stored sums of the hours in [start, end), shaped as `live_sums` rows."""
    return select(
        CallHour.hour.label("bucket"),
        CallHour.key,
        *(getattr(CallHour, name) for name in SUMS),
    ).where(
        CallHour.thresholds == thresholds(settings),
        CallHour.grouping == group,
        CallHour.hour >= start,
        # Only whole hours: the report's edges may cut one (a zone half an hour off UTC).
        CallHour.hour <= end - HOUR,
    )


async def summed_hours(
    session: AsyncSession, settings: KpiSettings, start: datetime, end: datetime
) -> set[datetime]:
    rows = await session.scalars(
        select(CallHourMark.hour).where(
            CallHourMark.thresholds == thresholds(settings),
            CallHourMark.hour >= start,
            CallHourMark.hour < end,
        )
    )
    return {as_utc(hour) for hour in rows}


def live_ranges(
    start: datetime, end: datetime, summed: set[datetime]
) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) whose calls are not in summed whole hours."""
    ranges: list[tuple[datetime, datetime]] = []
    moment = start
    while moment < end:
        hour = floor_hour(moment)
        if hour >= start and hour + HOUR <= end and hour in summed:
            moment = hour + HOUR
            continue
        stop = min(end, hour + HOUR)
        if ranges and ranges[-1][1] == moment:
            ranges[-1] = (ranges[-1][0], stop)
        else:
            ranges.append((moment, stop))
        moment = stop
    return ranges


async def refresh(
    session: AsyncSession, settings: KpiSettings, now: datetime, max_hours: int = 24 * 7
) -> int:
    """Sum the oldest hours not summed yet, at most `max_hours` of them; how many were."""
    until = floor_hour(now - ROLLUP_AGE)
    first: datetime | None = await session.scalar(select(func.min(Call.started_at)))
    if first is None:
        return 0
    key = thresholds(settings)
    done = await summed_hours(session, settings, floor_hour(first), until)
    todo: list[datetime] = []
    hour = floor_hour(first)
    while hour < until and len(todo) < max_hours:
        if hour not in done:
            todo.append(hour)
        hour += HOUR
    if not todo:
        return 0
    dialect = session.get_bind().dialect.name
    for start, end in _runs(todo):
        for group in ("queue", "agent"):
            rows = await session.execute(live_sums(dialect, group, settings, start, end))
            values = [
                {
                    "thresholds": key,
                    "grouping": group,
                    "hour": as_utc(row.bucket),
                    "key": row.key,
                    **{name: getattr(row, name) or 0 for name in SUMS},
                }
                for row in rows
            ]
            if values:
                await session.execute(insert(CallHour), values)
    await session.execute(
        insert(CallHourMark), [{"thresholds": key, "hour": hour} for hour in todo]
    )
    return len(todo)


def _runs(hours: list[datetime]) -> Iterable[tuple[datetime, datetime]]:
    """Consecutive hours as [start, end) ranges."""
    start = previous = hours[0]
    for hour in hours[1:]:
        if hour != previous + HOUR:
            yield start, previous + HOUR
            start = hour
        previous = hour
    yield start, previous + HOUR


async def forget(session: AsyncSession, hours: set[datetime]) -> None:
    """Drop the sums of hours a late call was written into; they are made again."""
    if hours:
        await session.execute(delete(CallHourMark).where(CallHourMark.hour.in_(hours)))
        await session.execute(delete(CallHour).where(CallHour.hour.in_(hours)))
