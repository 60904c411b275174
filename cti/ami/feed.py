"""One PBX end to end: the AMI link's events, translated, applied to the state model, published.

Owns the link, the model and a one-second ticker (wrap-up ends without any PBX event). Events are
handled in arrival order by the link's single consumer, and the resync after each login runs in
that same order, so the model never sees a reply and an event out of sequence.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from cti.ami.actions import PbxActions
from cti.ami.frames import AmiMessage, first
from cti.ami.link import AmiLink, LoginInfo
from cti.ami.resync import read_state
from cti.ami.translate import VARIABLES, Translator
from cti.bus import EventBus
from cti.config import PbxConfig
from cti.core.events import CallsLost
from cti.core.pbx_state import PbxState
from cti.health import HealthRegistry
from cti.metrics import Metrics

logger = logging.getLogger(__name__)

# Asterisk's boot time moves a little between logins (Uptime is whole seconds); a jump beyond this
# means it restarted.
RESTART_TOLERANCE = timedelta(seconds=5)


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
        self._metrics = metrics
        self._translator = Translator(config.name)
        self._booted_at: datetime | None = None
        self._ticker: asyncio.Task[None] | None = None
        self.link = AmiLink(
            config,
            on_event=self._on_event,
            on_login=self._on_login,
            health=health,
            metrics=metrics,
            events=(*self._translator.events, *PbxActions.EVENTS) if sieve else None,
            variables=VARIABLES,
        )
        self.actions = PbxActions(self.link, outbound_context=config.outbound_context)
        self.resyncs = 0
        self._synced = asyncio.Event()

    async def start(self) -> None:
        self._ticker = asyncio.create_task(self._tick(), name=f"pbx-tick:{self.config.name}")
        await self.link.start()

    async def close(self) -> None:
        await self.link.drain()
        await self.link.close()
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)

    def _publish(self, events: Iterable[object]) -> None:
        for event in events:
            if isinstance(event, CallsLost):
                logger.warning(
                    "%s: %d calls ended while the link was down%s",
                    self.config.name,
                    len(event.call_ids),
                    " (the PBX restarted)" if event.restarted else "",
                )
            self._bus.publish(event)

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
        booted_at = now - timedelta(seconds=info.uptime) if info.uptime is not None else None
        restarted = (
            booted_at is not None
            and self._booted_at is not None
            and abs(booted_at - self._booted_at) > RESTART_TOLERANCE
        )
        if booted_at is not None:
            self._booted_at = booted_at

        async def send_list(action: dict[str, str]) -> object:
            return await self.link.send(action, as_list=True)

        snapshot = await read_state(send_list, self.config.name, now, restarted=restarted)
        self.resyncs += 1
        self._publish(self.state.apply(snapshot))
        self._synced.set()

    async def wait_ready(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until logged in and the first resync has given the model the PBX's state."""
        await self.link.wait_connected(timeout)
        async with asyncio.timeout(timeout):
            await self._synced.wait()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self._publish(self.state.tick(datetime.now(UTC)))
