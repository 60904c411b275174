"""A PbxFeed on a bus of its own, as the AMI tests run it, and the events it published."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from cti.ami.feed import PbxFeed
from cti.bus import EventBus
from cti.config import PbxConfig, Secret
from cti.health import HealthRegistry
from cti.metrics import Metrics


class Seen(list[Any]):
    """The bus events a test received, with a way to wait for the one it expects."""

    def __init__(self) -> None:
        super().__init__()
        self._changed = asyncio.Condition()

    async def collect(self, event: Any) -> None:
        async with self._changed:
            self.append(event)
            self._changed.notify_all()

    async def until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(condition)


Feeding = AbstractAsyncContextManager[tuple[PbxFeed, "Seen"]]


@asynccontextmanager
async def running_feed(
    port: int, *, health: HealthRegistry | None = None, sieve: bool = True, **settings: Any
) -> AsyncIterator[tuple[PbxFeed, Seen]]:
    """A feed on 127.0.0.1:`port`, as the rig's full manager user unless `settings` say."""
    defaults: dict[str, Any] = {"name": "rig", "port": port, "secret": Secret("ctisecret")}
    config = PbxConfig(**defaults | settings)
    metrics = Metrics()
    bus = EventBus(metrics)
    seen = Seen()
    bus.subscribe("test", seen.collect)
    await bus.start()
    feed = PbxFeed(config, bus=bus, health=health or HealthRegistry(), metrics=metrics, sieve=sieve)
    await feed.start()
    try:
        yield feed, seen
    finally:
        await feed.close()
        await bus.stop(grace=1.0)
