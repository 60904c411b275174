"""Today's queue KPIs, kept current as calls end and pushed to the supervisors' floor.

At start the day so far is read from the call log; after that each ended call updates its
queue's running tally, once: a call the model announces as ended again (a later fact about it,
such as an AgentComplete after its last Hangup) is already counted. The day is the business day
in the configured time zone: at midnight there the tallies start again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.clock import Clock
from cti.core.events import CallEnded, EndSource
from cti.core.hours import WeeklyHours
from cti.core.kpi import KpiCall, KpiSettings, KpiTally, QueueKpis, Targets, grade
from cti.db.models import Call
from cti.webapp.push import PushHub

CHANNEL = "floor"


def kpi_json(pbx: str, kpis: QueueKpis, targets: Targets) -> dict[str, Any]:
    return {
        "key": f"{pbx}/{kpis.queue}",
        "pbx": pbx,
        "queue": kpis.queue,
        "offered": kpis.offered,
        "answered": kpis.answered,
        "abandoned": kpis.abandoned,
        "short_abandoned": kpis.short_abandoned,
        "timed_out": kpis.timed_out,
        "no_agent": kpis.no_agent,
        "cut_off": kpis.cut_off,
        "unknown": kpis.unknown,
        "service_level": kpis.service_level,
        "asa": kpis.asa_seconds,
        "aht": kpis.aht_seconds,
        "abandon_rate": kpis.abandon_rate,
        "longest_wait": kpis.longest_wait_seconds,
        "grades": grade(kpis, targets),
    }


class TodayBoard:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        hub: PushHub,
        *,
        settings: Mapping[str, KpiSettings],
        hours: WeeklyHours,
        zone: ZoneInfo,
        targets: Targets,
        clock: Clock,
    ) -> None:
        self._db = db
        self._hub = hub
        self._settings = settings
        self._hours = hours
        self._zone = zone
        self._targets = targets
        self._clock = clock
        self._day = self._today()
        self._tallies: dict[tuple[str, str], KpiTally] = {}
        # (pbx, call id) of the calls in today's tallies.
        self._counted: set[tuple[str, str]] = set()

    async def load(self) -> None:
        """Today's calls so far, from the call log."""
        midnight = datetime.combine(self._day, time(), self._zone).astimezone(UTC)
        async with self._db() as session:
            rows = await session.execute(
                select(
                    Call.pbx,
                    Call.uniqueid,
                    Call.queue,
                    Call.enqueued_at,
                    Call.outcome,
                    Call.wait_seconds,
                    Call.talk_seconds,
                    Call.end_source,
                ).where(Call.enqueued_at >= midnight, Call.queue != "", Call.ended_at.is_not(None))
            )
            for pbx, uniqueid, queue, enqueued_at, outcome, wait, talk, source in rows:
                if enqueued_at is not None:
                    self._counted.add((pbx, uniqueid))
                    self._tally(pbx, queue).add(
                        KpiCall(
                            queue,
                            enqueued_at,
                            outcome,
                            wait or 0.0,
                            talk or 0.0,
                            source != EndSource.OUTAGE.value,
                        )
                    )

    def _today(self) -> date:
        return self._clock().astimezone(self._zone).date()

    def _tally(self, pbx: str, queue: str) -> KpiTally:
        tally = self._tallies.get((pbx, queue))
        if tally is None:
            settings = self._settings.get(pbx) or next(iter(self._settings.values()))
            tally = KpiTally(queue, settings, self._hours, self._zone)
            self._tallies[(pbx, queue)] = tally
        return tally

    def rows(self) -> list[dict[str, Any]]:
        return [
            kpi_json(pbx, tally.kpis(queue), self._targets)
            for (pbx, queue), tally in sorted(self._tallies.items())
        ]

    async def handle(self, event: object) -> None:
        """Bus subscriber for CallEnded."""
        if not isinstance(event, CallEnded):
            return
        call = event.call
        if not call.queue or call.enqueued_at is None or call.outcome is None:
            return
        today = self._today()
        if today != self._day:
            self._day = today
            self._tallies.clear()
            self._counted.clear()
            self._hub.publish(CHANNEL, "kpi-reset", None)
        if (call.pbx, call.call_id) in self._counted:
            return
        self._counted.add((call.pbx, call.call_id))
        tally = self._tally(call.pbx, call.queue)
        tally.add(
            KpiCall(
                call.queue,
                call.enqueued_at,
                call.outcome.value,
                call.wait_seconds or 0.0,
                call.talk_seconds or 0.0,
                call.end_source is not EndSource.OUTAGE,
            )
        )
        self._hub.publish(CHANNEL, "kpi", kpi_json(call.pbx, tally.kpis(call.queue), self._targets))
