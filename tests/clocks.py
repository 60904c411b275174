"""Wall clocks for tests: no test depends on the time of day, the date or the machine's zone.

A test that reads a calendar-bound view (today, this month, quiet hours) runs the service on a
`Clock` set to a known instant and places its data relative to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo


@dataclass
class Clock:
    """A wall clock the test sets and moves by hand."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def midday(zone: str = "UTC") -> datetime:
    """Noon on a Wednesday in the middle of a month in `zone`: minutes either side are today,
    this week and this month there."""
    return datetime(2026, 12, 16, 12, 0, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def just_after_midnight(zone: str = "UTC") -> datetime:
    """A minute into the first day of a month (a Tuesday) in `zone`, where a call placed a few
    minutes before "now" belongs to yesterday and to last month."""
    return datetime(2026, 12, 1, 0, 1, tzinfo=ZoneInfo(zone)).astimezone(UTC)
