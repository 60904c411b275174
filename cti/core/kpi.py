"""Queue KPIs with the definitions written down (docs/kpi.md), computed from finished calls.

Pure: the caller passes the calls, the settings and the business hours. A call counts for a
queue when it entered that queue; calls that entered outside business hours are counted apart
(`out_of_hours`) and left out of every rate, as a center closed at night has no service level then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from cti.core.hours import WeeklyHours

Formula = Literal["answered-and-long-abandons", "answered-only", "all-offered"]


@dataclass(frozen=True, slots=True)
class KpiCall:
    queue: str
    enqueued_at: datetime
    outcome: str
    wait_seconds: float
    talk_seconds: float


@dataclass(frozen=True, slots=True)
class KpiSettings:
    service_level_seconds: int
    short_abandon_seconds: int
    formula: Formula
    wrapup_seconds: Mapping[str, int]


@dataclass(frozen=True, slots=True)
class QueueKpis:
    queue: str
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    timed_out: int
    no_agent: int
    answered_in_time: int
    out_of_hours: int
    service_level: float | None
    asa_seconds: float | None
    aht_seconds: float | None
    abandon_rate: float | None
    longest_wait_seconds: float


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def queue_kpis(
    queue: str,
    calls: Iterable[KpiCall],
    settings: KpiSettings,
    hours: WeeklyHours,
    zone: ZoneInfo,
) -> QueueKpis:
    answered_waits: list[float] = []
    handle_times: list[float] = []
    offered = abandoned = short = timed_out = no_agent = in_time = closed = 0
    longest = 0.0
    wrapup = settings.wrapup_seconds.get(queue, 0)
    for call in calls:
        if not hours.is_open(call.enqueued_at, zone):
            closed += 1
            continue
        offered += 1
        longest = max(longest, call.wait_seconds)
        if call.outcome == "answered":
            answered_waits.append(call.wait_seconds)
            handle_times.append(call.talk_seconds + wrapup)
            in_time += call.wait_seconds <= settings.service_level_seconds
        elif call.outcome == "abandoned":
            if call.wait_seconds < settings.short_abandon_seconds:
                short += 1
            else:
                abandoned += 1
        elif call.outcome == "queue-timeout":
            timed_out += 1
        elif call.outcome == "no-agent":
            no_agent += 1
    answered = len(answered_waits)
    counted = offered - short  # a short abandon is a caller who never really waited
    denominator = {
        "answered-and-long-abandons": answered + abandoned,
        "answered-only": answered,
        "all-offered": counted,
    }[settings.formula]
    return QueueKpis(
        queue=queue,
        offered=offered,
        answered=answered,
        abandoned=abandoned,
        short_abandoned=short,
        timed_out=timed_out,
        no_agent=no_agent,
        answered_in_time=in_time,
        out_of_hours=closed,
        service_level=_ratio(in_time, denominator),
        asa_seconds=_ratio(sum(answered_waits), answered),
        aht_seconds=_ratio(sum(handle_times), answered),
        abandon_rate=_ratio(abandoned, counted),
        longest_wait_seconds=longest,
    )
