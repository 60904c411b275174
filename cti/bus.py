"""The in-process event bus: domain events fan out to subscribers, each on its own queue and task.

A slow subscriber (the call-log writer) never delays a fast one (the screen-pop); a failing one is
logged with the event and counted, and the others carry on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from cti.metrics import Metrics

logger = logging.getLogger(__name__)

Handler = Callable[[Any], Awaitable[None]]


@dataclass(slots=True)
class _Subscriber:
    name: str
    handler: Handler
    kinds: tuple[type, ...]
    queue: asyncio.Queue[Any] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None


class EventBus:
    def __init__(self, metrics: Metrics) -> None:
        self._subscribers: list[_Subscriber] = []
        self._metrics = metrics
        self._started = False

    def subscribe(self, name: str, handler: Handler, *kinds: type) -> None:
        """Deliver events of the given types (all events if none) to `handler`, in order."""
        sub = _Subscriber(name, handler, kinds)
        self._subscribers.append(sub)
        if self._started:
            self._start(sub)

    def publish(self, event: Any) -> None:
        for sub in self._subscribers:
            if not sub.kinds or isinstance(event, sub.kinds):
                sub.queue.put_nowait(event)
        self._metrics.inc("cti_bus_events_published_total")

    def depth(self, name: str) -> int:
        return sum(s.queue.qsize() for s in self._subscribers if s.name == name)

    async def start(self) -> None:
        self._started = True
        for sub in self._subscribers:
            self._start(sub)

    async def drain(self) -> None:
        """Wait until every queued event has been handled."""
        await asyncio.gather(*(s.queue.join() for s in self._subscribers))

    async def stop(self, grace: float = 10.0) -> None:
        try:
            async with asyncio.timeout(grace):
                await self.drain()
        except TimeoutError:
            logger.warning("bus stopped with undelivered events: %s", self._depths())
        for sub in self._subscribers:
            if sub.task is not None:
                sub.task.cancel()
        await asyncio.gather(*(s.task for s in self._subscribers if s.task), return_exceptions=True)
        self._started = False

    def _start(self, sub: _Subscriber) -> None:
        sub.task = asyncio.create_task(self._consume(sub), name=f"bus:{sub.name}")
        self._metrics.gauge_fn("cti_bus_queue_depth", sub.queue.qsize, subscriber=sub.name)

    async def _consume(self, sub: _Subscriber) -> None:
        while True:
            event = await sub.queue.get()
            try:
                await sub.handler(event)
            except Exception:
                # A subscriber's bug must not stop delivery to it or to anyone else.
                logger.exception("subscriber %s failed on %r", sub.name, event)
                self._metrics.inc("cti_bus_handler_errors_total", subscriber=sub.name)
            finally:
                sub.queue.task_done()

    def _depths(self) -> dict[str, int]:
        return {s.name: s.queue.qsize() for s in self._subscribers}
