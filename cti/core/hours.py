"""Business hours (and later quiet hours) in a time zone: pure arithmetic over given instants."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")


@cache
def _time_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk at every call.
    return frozenset(available_timezones())


def is_time_zone(name: str) -> bool:
    return name in _time_zones()


@dataclass(frozen=True, slots=True)
class Span:
    start: time
    end: time

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """Opening spans per weekday (0 = Monday); a week with no spans at all means always open."""

    spans: tuple[tuple[Span, ...], ...]

    @property
    def always_open(self) -> bool:
        return not any(self.spans)

    def is_open(self, instant: datetime, zone: ZoneInfo) -> bool:
        if instant.tzinfo is None:
            raise ValueError("instant must be timezone-aware")
        if self.always_open:
            return True
        local = instant.astimezone(zone)
        return any(span.contains(local.time()) for span in self.spans[local.weekday()])


def parse_weekly_hours(table: Mapping[str, str]) -> WeeklyHours:
    """Parse {"mon": "08:00-12:00,13:00-18:00", ...}; days left out are closed."""
    per_day: list[tuple[Span, ...]] = []
    for name in table:
        if name not in DAYS:
            raise ValueError(f"unknown day {name!r}; use {', '.join(DAYS)}")
    for name in DAYS:
        text = table.get(name, "").strip()
        spans: list[Span] = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            match = _SPAN.match(part)
            if not match:
                raise ValueError(f"{name}: {part!r} is not HH:MM-HH:MM")
            h1, m1, h2, m2 = (int(g) for g in match.groups())
            if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2 != 0):
                raise ValueError(f"{name}: {part!r} is not a valid time span")
            start = time(h1, m1)
            end = time.max if h2 == 24 else time(h2, m2)
            if end <= start:
                raise ValueError(f"{name}: {part!r} ends before it starts")
            spans.append(Span(start, end))
        per_day.append(tuple(spans))
    return WeeklyHours(tuple(per_day))
