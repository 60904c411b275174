"""One PBX end to end: the AMI link's events, translated, applied to the state model, published.

Owns the link, the model and a one-second ticker (wrap-up ends without any PBX event). Events are
handled in arrival order by the link's single consumer, and the resync after each login runs in
that same order, so the model never sees a reply and an event out of sequence. After a lost link
the resync also reads the PBX's queue log from the moment of the loss, when one is configured. At
each login the manager user's rights are checked (cti.ami.rights) and the resync is retried until
the PBX's state is read (cti.ami.resyncer).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from cti.ami.actions import PbxActions
from cti.ami.frames import AmiMessage, first
from cti.ami.link import AmiLink, LoginInfo
from cti.ami.queue_log import open_queue_log
from cti.ami.resyncer import Resyncer
from cti.ami.rights import PROBE_VARIABLE, RightsCheck
from cti.ami.translate import VARIABLES, Translator
from cti.bus import EventBus
from cti.config import PbxConfig
from cti.core.events import GapReport
from cti.core.observations import QueueRecord
from cti.core.pbx_state import PbxState
from cti.health import HealthRegistry
from cti.metrics import Metrics

logger = logging.getLogger(__name__)

# Asterisk's boot time moves a little between logins (Uptime is whole seconds); a jump beyond this
# means it restarted.
RESTART_TOLERANCE = timedelta(seconds=5)
# The queue log counts whole seconds: read it from a little before the loss.
QUEUE_LOG_MARGIN = timedelta(seconds=2)


class PbxFeed:
    def __init__(
        self,
        config: PbxConfig,
        *,
        bus: EventBus,
        health: HealthRegistry,
        metrics: Metrics,
        devices: Iterable[str] = (),
        sieve: bool = True,
    ) -> None:
        """`sieve`: drop the events the feed does not read before they are parsed (False: hand
        it every event, as bench/ami_ingest.py does to show what the sieve saves)."""
        self.config = config
        self.state = PbxState(config.name, config.wrapup_seconds, devices)
        self._bus = bus
        self._health = health
        self._metrics = metrics
        self._queue_log = open_queue_log(config)
        self._translator = Translator(config.name)
        self._booted_at: datetime | None = None
        # A loss (and whether the PBX restarted) whose resync has not completed yet: a login that
        # drops before its resync leaves the outage to the next one, from its start.
        self._unsynced: tuple[datetime | None, bool] | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.rights = RightsCheck(config, health)
        self.link = AmiLink(
            config,
            on_event=self._on_event,
            on_login=self._on_login,
            health=health,
            metrics=metrics,
            events=(*self._translator.events, *PbxActions.EVENTS) if sieve else None,
            variables=(*VARIABLES, PROBE_VARIABLE),
            on_frame=self.rights.observe,
        )
        self.actions = PbxActions(self.link, outbound_context=config.outbound_context)
        self._resyncer = Resyncer(config, self.link, self.rights, health)
        self.resyncs = 0
        self._synced = asyncio.Event()
        metrics.describe("cti_calls_ended_unseen_total", "calls that ended while the link was down")
        metrics.describe("cti_calls_reconciled_total", "of those, calls the queue log told of")
        metrics.describe("cti_calls_unlogged_total", "calls the PBX counted in an outage, unlogged")

    async def start(self) -> None:
        self._ticker = asyncio.create_task(self._tick(), name=f"pbx-tick:{self.config.name}")
        await self.link.start()

    async def close(self) -> None:
        await self.link.drain()
        await self.link.close()
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
        if self._queue_log is not None:
            await self._queue_log.close()

    def _publish(self, events: Iterable[object]) -> None:
        for event in events:
            if isinstance(event, GapReport):
                self._report_gap(event)
            self._bus.publish(event)

    def _report_gap(self, gap: GapReport) -> None:
        name = self.config.name
        self._metrics.inc("cti_calls_ended_unseen_total", len(gap.ended), pbx=name)
        self._metrics.inc("cti_calls_reconciled_total", gap.reconciled, pbx=name)
        if gap.ended:
            logger.warning(
                "%s: %d calls ended while the link was down%s: %d told by the queue log, %d "
                "closed as of %s",
                name,
                len(gap.ended),
                " (the PBX restarted)" if gap.restarted else "",
                gap.reconciled,
                len(gap.ended) - gap.reconciled,
                gap.lost_at.isoformat(timespec="seconds") if gap.lost_at else "the reconnect",
            )
        for queue in gap.unlogged:
            self._metrics.inc(
                "cti_calls_unlogged_total", queue.completed + queue.abandoned, pbx=name
            )
            logger.warning(
                "%s: queue %s completed %d and abandoned %d calls while the link was down that "
                "are not in the call log%s",
                name,
                queue.queue,
                queue.completed,
                queue.abandoned,
                "" if self._queue_log else " (configure queue_log_file to read them)",
            )

    async def _on_event(self, message: AmiMessage, received: float) -> None:
        self.actions.observe(message)
        if not self._translator.wanted(first(message, "Event")):
            return
        received_at = datetime.now(UTC) - timedelta(seconds=time.monotonic() - received)
        observation = self._translator.translate(message, received_at)
        if observation is not None:
            self._publish(self.state.apply(observation))

    async def _on_login(self, info: LoginInfo) -> None:
        now = datetime.now(UTC)
        lost_at = None
        if info.lost is not None:
            lost_at = now - timedelta(seconds=time.monotonic() - info.lost)
        booted_at = now - timedelta(seconds=info.uptime) if info.uptime is not None else None
        restarted = (
            booted_at is not None
            and self._booted_at is not None
            and abs(booted_at - self._booted_at) > RESTART_TOLERANCE
        )
        if booted_at is not None:
            self._booted_at = booted_at
        if self._unsynced is not None:
            lost_at = self._unsynced[0] or lost_at
            restarted = restarted or self._unsynced[1]
        self._unsynced = (lost_at, restarted)

        await self.rights.check(self.link, booted=info.uptime is not None)
        records = await self._gap_records(lost_at) if lost_at is not None else None
        snapshot = await self._resyncer.run(restarted=restarted, lost_at=lost_at, records=records)
        if snapshot is None:
            return  # the link dropped or logged in again first; that login resyncs
        self._unsynced = None
        self.resyncs += 1
        self._publish(self.state.apply(snapshot))
        self._synced.set()
        self.rights.conclude()

    async def _gap_records(self, lost_at: datetime) -> tuple[QueueRecord, ...] | None:
        """The queue log's lines since the loss, or None without one or if it cannot be read."""
        if self._queue_log is None:
            return None
        try:
            async with asyncio.timeout(self.config.action_timeout):
                records = await self._queue_log.since(lost_at - QUEUE_LOG_MARGIN)
        except (OSError, SQLAlchemyError, TimeoutError) as exc:
            logger.warning(
                "%s: cannot read the queue log (%s); calls of the outage end unseen",
                self.config.name,
                exc if isinstance(exc, OSError) else type(exc).__name__,
            )
            self._health.report(f"queue-log:{self.config.name}", "degraded", str(exc)[:200])
            return None
        self._health.report(f"queue-log:{self.config.name}", "ok")
        return tuple(records)

    async def wait_ready(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until logged in and the first resync has given the model the PBX's state."""
        await self.link.wait_connected(timeout)
        async with asyncio.timeout(timeout):
            await self._synced.wait()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._publish(self.state.tick(datetime.now(UTC)))
