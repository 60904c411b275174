"""Queue KPIs with the definitions written down (docs/kpi.md), computed from finished calls.

Pure: the caller passes the calls, the settings and the business hours. A call counts for a
queue when it entered that queue; calls that entered outside business hours are counted apart
(`out_of_hours`) and left out of every rate, as a center closed at night has no service level then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from cti.core.hours import WeeklyHours

_EARLIEST = datetime.min.replace(tzinfo=UTC)
Formula = Literal["answered-and-long-abandons", "answered-only", "all-offered"]


@dataclass(frozen=True, slots=True)
class KpiCall:
    queue: str
    enqueued_at: datetime
    outcome: str
    wait_seconds: float
    talk_seconds: float
    # False when the end of an answered call was not seen (an outage): its talk is unknown.
    talk_known: bool = True


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
    cut_off: int
    unknown: int
    answered_in_time: int
    out_of_hours: int
    service_level: float | None
    asa_seconds: float | None
    aht_seconds: float | None
    abandon_rate: float | None
    longest_wait_seconds: float


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


# The counts summed per hour for reports (cti.calllog.rollup): all but `closed` and `longest`,
# which is a maximum.
SUMMED_COUNTS: Final = (
    "offered",
    "answered",
    "abandoned",
    "short",
    "timed_out",
    "no_agent",
    "cut",
    "unseen",
    "in_time",
    "talked",
    "wait_total",
    "talk_total",
    "wrapup_total",
)


@dataclass(slots=True)
class KpiCounts:
    """The sums every KPI is made of; counts for any span merge by adding them up.

    Every offered call is in exactly one of answered, abandoned, short, timed_out, no_agent,
    cut (the PBX restarted with the caller waiting) and unseen (it ended while the link was
    down, nothing tells how). `talked`: answered calls whose talk was timed to its end."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short: int = 0
    timed_out: int = 0
    no_agent: int = 0
    cut: int = 0
    unseen: int = 0
    in_time: int = 0
    talked: int = 0
    closed: int = 0
    wait_total: float = 0.0
    talk_total: float = 0.0
    # The wrap-up time of each timed talk's queue: an agent's calls come from several queues.
    wrapup_total: float = 0.0
    longest: float = 0.0

    @classmethod
    def of(cls, sums: Mapping[Any, Any]) -> KpiCounts:
        """Counts from sums named as the fields (`longest` a maximum; None for no rows)."""
        counts = cls()
        for name in (*SUMMED_COUNTS, "longest"):
            # The defaults tell which are whole counts and which are seconds.
            setattr(counts, name, type(getattr(counts, name))(sums[name] or 0))
        return counts

    def merge(self, other: KpiCounts) -> None:
        for name in (*SUMMED_COUNTS, "closed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.longest = max(self.longest, other.longest)

    def kpis(self, queue: str, settings: KpiSettings) -> QueueKpis:
        # A short abandon never really waited; a call cut off or unseen has no known fate.
        counted = self.offered - self.short - self.cut - self.unseen
        denominator = {
            "answered-and-long-abandons": self.answered + self.abandoned,
            "answered-only": self.answered,
            "all-offered": counted,
        }[settings.formula]
        return QueueKpis(
            queue=queue,
            offered=self.offered,
            answered=self.answered,
            abandoned=self.abandoned,
            short_abandoned=self.short,
            timed_out=self.timed_out,
            no_agent=self.no_agent,
            cut_off=self.cut,
            unknown=self.unseen,
            answered_in_time=self.in_time,
            out_of_hours=self.closed,
            service_level=_ratio(self.in_time, denominator),
            asa_seconds=_ratio(self.wait_total, self.answered),
            aht_seconds=_ratio(self.talk_total + self.wrapup_total, self.talked),
            abandon_rate=_ratio(self.abandoned, counted),
            longest_wait_seconds=self.longest,
        )


class KpiTally:
    """Running counts for one queue: add finished calls as they come, read the KPIs any time."""

    def __init__(self, queue: str, settings: KpiSettings, hours: WeeklyHours, zone: ZoneInfo):
        self._queue = queue
        self._settings = settings
        self._hours = hours
        self._zone = zone
        self.counts = KpiCounts()

    def add(self, call: KpiCall) -> None:
        counts = self.counts
        if not self._hours.is_open(call.enqueued_at, self._zone):
            counts.closed += 1
            return
        counts.offered += 1
        counts.longest = max(counts.longest, call.wait_seconds)
        if call.outcome == "answered":
            counts.answered += 1
            counts.wait_total += call.wait_seconds
            if call.talk_known:
                counts.talked += 1
                counts.talk_total += call.talk_seconds
                counts.wrapup_total += self._settings.wrapup_seconds.get(call.queue, 0)
            counts.in_time += call.wait_seconds <= self._settings.service_level_seconds
        elif call.outcome == "abandoned":
            if call.wait_seconds < self._settings.short_abandon_seconds:
                counts.short += 1
            else:
                counts.abandoned += 1
        elif call.outcome == "queue-timeout":
            counts.timed_out += 1
        elif call.outcome == "no-agent":
            counts.no_agent += 1
        elif call.outcome == "pbx-restart":
            counts.cut += 1
        elif call.outcome == "link-down":
            counts.unseen += 1

    def kpis(self, queue: str) -> QueueKpis:
        return self.counts.kpis(queue, self._settings)


def queue_kpis(
    queue: str,
    calls: Iterable[KpiCall],
    settings: KpiSettings,
    hours: WeeklyHours,
    zone: ZoneInfo,
) -> QueueKpis:
    tally = KpiTally(queue, settings, hours, zone)
    for call in calls:
        tally.add(call)
    return tally.kpis(queue)


@dataclass(frozen=True, slots=True)
class Targets:
    """Where a wallboard tile turns amber, then red (red at twice the miss)."""

    service_level: float
    abandon_rate: float
    longest_wait_seconds: float


def grade(kpis: QueueKpis, targets: Targets) -> dict[str, str]:
    """ok, warn or alarm for the three figures a supervisor acts on."""

    def above(value: float | None, target: float) -> str:  # higher is better
        if value is None or value >= target:
            return "ok"
        return "warn" if value >= target - (1 - target) else "alarm"

    def below(value: float | None, limit: float) -> str:  # lower is better
        if value is None or value <= limit:
            return "ok"
        return "warn" if value <= 2 * limit else "alarm"

    return {
        "service_level": above(kpis.service_level, targets.service_level),
        "abandon_rate": below(kpis.abandon_rate, targets.abandon_rate),
        "longest_wait": below(kpis.longest_wait_seconds, targets.longest_wait_seconds),
    }


@dataclass(frozen=True, slots=True)
class PbxStatCall:
    outcome: str
    answered_at: datetime | None
    ended_at: datetime | None
    pbx_hold_seconds: int | None
    pbx_talk_seconds: int | None


@dataclass(frozen=True, slots=True)
class PbxQueueStats:
    completed: int
    abandoned: int
    holdtime: int
    talktime: int


def pbx_queue_stats(calls: Iterable[PbxStatCall]) -> PbxQueueStats:
    """What app_queue itself reports in QueueParams for these calls, to check we agree with it.

    Completed counts AgentComplete; Abandoned counts every QueueCallerAbandon, which Asterisk
    also sends when the queue times out. Holdtime and TalkTime are not means: app_queue keeps
    (3 * old + new) / 4 in whole seconds, updated at each connect and each completion in turn.
    """
    every = list(calls)
    answered = sorted(
        (c for c in every if c.outcome == "answered" and c.answered_at is not None),
        key=lambda c: c.answered_at or _EARLIEST,
    )
    holdtime = talktime = 0
    for call in answered:
        holdtime = (holdtime * 3 + (call.pbx_hold_seconds or 0)) // 4
    completed = sorted(
        (c for c in answered if c.pbx_talk_seconds is not None),
        key=lambda c: c.ended_at or _EARLIEST,
    )
    for call in completed:
        talktime = (talktime * 3 + (call.pbx_talk_seconds or 0)) // 4
    abandoned = sum(
        1
        for c in every
        if c.outcome in ("abandoned", "queue-timeout") and c.pbx_hold_seconds is not None
    )
    return PbxQueueStats(len(completed), abandoned, holdtime, talktime)
