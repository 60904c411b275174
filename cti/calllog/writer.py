"""Writes call snapshots from the bus into the calls table, in small batches, idempotently.

A call's row is created when it is first seen and updated as it goes (queued, answered, ended),
so a live call already has a row an agent can note a disposition on. The latest snapshot per
call wins; rows are upserted on (pbx, uniqueid), so a replay or a resync writes the same row
again instead of a second one. A failed write keeps its rows pending and is retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.calllog import rollup
from cti.clock import Clock, utcnow
from cti.core.events import CallEvent, CallSnapshot
from cti.core.kpi import KpiSettings
from cti.core.numbers import NumberRules, normalize
from cti.db.models import Call, Customer, PhoneNumber
from cti.directory import Directory
from cti.metrics import Metrics

logger = logging.getLogger(__name__)

DevicesOf = Callable[[str, str], tuple[str, ...]]
FLUSH_SECONDS: Final = 0.2
BATCH: Final = 500
RETRY_SECONDS: Final = (0.5, 1.0, 2.0, 5.0)
# How often hours that came of age are summed for reports.
SUM_SECONDS: Final = 300.0
# Set by people, never by the PBX: an update from a later snapshot must keep them.
_KEPT: Final = frozenset({"id", "pbx", "uniqueid", "disposition", "notes", "customer_id"})


class CallLogWriter:
    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        *,
        directory: Directory,
        devices_of: DevicesOf,
        rules: Mapping[str, NumberRules],
        default_rules: NumberRules,
        metrics: Metrics,
        report_settings: KpiSettings,
        clock: Clock = utcnow,
    ) -> None:
        self._db = db
        self._report_settings = report_settings
        self._clock = clock
        self._summed_at = 0.0
        self._directory = directory
        self._devices_of = devices_of
        self._rules = rules
        self._default_rules = default_rules
        self._metrics = metrics
        self._pending: dict[tuple[str, str], CallSnapshot] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        metrics.describe("cti_calllog_rows_written_total", "call log rows inserted or updated")
        metrics.describe("cti_calllog_write_errors_total", "call log batches that failed and wait")
        metrics.gauge_fn("cti_calllog_pending", lambda: len(self._pending))

    async def handle(self, event: object) -> None:
        """Bus subscriber: remember the newest snapshot of each call until the next flush."""
        if isinstance(event, CallEvent):
            call = event.call
            self._pending[(call.pbx, call.call_id)] = call
            # Ended calls wait for the next tick like the rest: a flush per call would cost
            # a transaction per call at busy times.
            if len(self._pending) >= BATCH:
                self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="calllog-writer")

    async def stop(self) -> None:
        """Write what is pending, then stop (graceful shutdown flushes, ground for SIGTERM).

        A write in progress is waited for, never cancelled: cancelled, it took its batch with it.
        """
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        for delay in (*RETRY_SECONDS, 0.0):
            if await self.flush():
                return
            await asyncio.sleep(delay)
        logger.error("call log: %d calls could not be written at shutdown", len(self._pending))

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            pause = (
                RETRY_SECONDS[min(failures, len(RETRY_SECONDS)) - 1] if failures else FLUSH_SECONDS
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self._wake.wait()
            self._wake.clear()
            if self._stopping:
                return
            await self._sum_hours()
            failures = 0 if await self.flush() else failures + 1

    async def flush(self) -> bool:
        """Write every pending snapshot in one transaction; False (rows kept) if it failed."""
        if not self._pending:
            return True
        batch, self._pending = self._pending, {}
        try:
            async with self._db.begin() as session:
                rows = await self._rows(session, list(batch.values()))
                customer_of = await self._customers_of(session, rows)
                for row in rows:
                    row["customer_id"] = customer_of.get(row["caller_e164"])
                await session.execute(self._upsert(session.get_bind().dialect.name), rows)
                await rollup.forget(session, self._late_hours(rows))
        except (SQLAlchemyError, OSError):
            logger.exception("call log: writing %d calls failed; will retry", len(batch))
            self._metrics.inc("cti_calllog_write_errors_total")
            # Newer snapshots that arrived meanwhile win over the batch being put back.
            self._pending = {**batch, **self._pending}
            return False
        self._metrics.inc("cti_calllog_rows_written_total", len(batch))
        return True

    def _late_hours(self, rows: list[dict[str, Any]]) -> set[datetime]:
        """Hours whose sums may be made already and that these ended calls belong to."""
        summed_before = self._clock() - rollup.ROLLUP_AGE + rollup.HOUR
        return {
            rollup.floor_hour(row["enqueued_at"])
            for row in rows
            if row["ended_at"] and row["enqueued_at"] and row["enqueued_at"] < summed_before
        }

    async def _sum_hours(self) -> None:
        """Keep the reports' hourly sums up to date: catch up a day at a time, then hourly."""
        if time.monotonic() < self._summed_at:
            return
        try:
            async with self._db.begin() as session:
                summed = await rollup.refresh(
                    session, self._report_settings, self._clock(), max_hours=24
                )
        except (SQLAlchemyError, OSError):
            logger.exception("call log: summing hours for reports failed; will retry")
            summed = 0
        self._summed_at = time.monotonic() + (0 if summed == 24 else SUM_SECONDS)

    def _upsert(self, dialect: str) -> Any:
        """One row's upsert, run for many rows: compiled once and cached, whatever the batch."""
        table = cast(Table, Call.__table__)
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(table)
        updates: dict[str, Any] = {
            column.name: statement.excluded[column.name]
            for column in table.columns
            if column.name not in _KEPT
        }
        # A customer an agent linked by hand stays; an unlinked row gets one if found.
        updates["customer_id"] = func.coalesce(table.c.customer_id, statement.excluded.customer_id)
        return statement.on_conflict_do_update(
            index_elements=[table.c.pbx, table.c.uniqueid], set_=updates
        )

    async def _rows(self, session: AsyncSession, calls: list[CallSnapshot]) -> list[dict[str, Any]]:
        rows = []
        for call in calls:
            number = normalize(call.number, self._rules.get(call.pbx, self._default_rules))
            rows.append(
                {
                    "pbx": call.pbx,
                    "uniqueid": call.call_id,
                    "linkedid": call.linkedid,
                    "direction": call.direction.value,
                    "caller_number": call.number[:80],
                    "caller_name": call.name[:200],
                    "withheld": call.withheld,
                    "caller_e164": number.e164,
                    "queue": call.queue[:80],
                    "agent_interface": call.agent_interface[:128],
                    "agent_name": call.agent_name[:120],
                    "agent_user_id": self._agent_user(call),
                    "started_at": call.started_at,
                    "enqueued_at": call.enqueued_at,
                    "first_ring_at": call.first_ring_at,
                    "answered_at": call.answered_at,
                    "ended_at": call.ended_at,
                    "wait_seconds": call.wait_seconds,
                    "ring_seconds": call.ring_seconds,
                    "talk_seconds": call.talk_seconds,
                    "pbx_hold_seconds": call.pbx_hold_seconds,
                    "pbx_talk_seconds": call.pbx_talk_seconds,
                    "attempts": [
                        {
                            "agent": a.member_name or a.interface,
                            "interface": a.interface,
                            "rung_at": a.rung_at.isoformat(),
                            "ended_at": a.ended_at.isoformat() if a.ended_at else None,
                            "result": a.result.value if a.result else None,
                        }
                        for a in call.attempts
                    ],
                    "outcome": call.outcome.value if call.outcome else "",
                    "hangup_cause": call.hangup_cause,
                    "end_reason": call.end_reason[:16],
                    "end_source": call.end_source.value,
                    "recording": call.recording[:255],
                }
            )
        return rows

    def _agent_user(self, call: CallSnapshot) -> int | None:
        if not call.agent_interface:
            return None
        people = self._directory.people(call.pbx, self._devices_of(call.pbx, call.agent_interface))
        return people[0].user_id if len(people) == 1 else None

    async def _customers_of(
        self, session: AsyncSession, rows: list[dict[str, Any]]
    ) -> dict[str, int]:
        """The customer holding each number (the most recently updated one, if several)."""
        numbers = {row["caller_e164"] for row in rows if row["caller_e164"]}
        if not numbers:
            return {}
        holders = await session.execute(
            select(PhoneNumber.e164, PhoneNumber.customer_id)
            .join(Customer, Customer.id == PhoneNumber.customer_id)
            .where(PhoneNumber.e164.in_(numbers))
            .order_by(Customer.updated_at)
        )
        return {e164: customer_id for e164, customer_id in holders}
