"""Several PBXes at once: one connection each, one bus, calls told apart by PBX."""

from __future__ import annotations

import asyncio
from typing import Any

from cti.ami.feed import PbxFeed
from cti.bus import EventBus
from cti.config import PbxConfig, Secret
from cti.core.events import CallEnded
from cti.health import HealthRegistry
from cti.metrics import Metrics
from cti.sim.config import SimulatorConfig
from cti.sim.simulator import run_simulator


async def test_two_pbxes_feed_one_bus_each_on_its_own_link() -> None:
    paris = await run_simulator(SimulatorConfig(time_scale=0.05, seed=1))
    tokyo = await run_simulator(SimulatorConfig(time_scale=0.05, seed=2))
    metrics, health = Metrics(), HealthRegistry()
    bus = EventBus(metrics)
    ended: list[Any] = []
    done = asyncio.Event()

    async def collect(event: Any) -> None:
        ended.append(event.call)
        if len(ended) == 2:
            done.set()

    bus.subscribe("test", collect, CallEnded)
    await bus.start()
    feeds = [
        PbxFeed(
            PbxConfig(
                name=name,
                port=sim.port,
                secret=Secret("ctisecret"),
                event_filter=["!Event: Newexten"],
            ),
            bus=bus,
            health=health,
            metrics=metrics,
        )
        for name, sim in (("paris", paris), ("tokyo", tokyo))
    ]
    try:
        for feed in feeds:
            await feed.start()
            await feed.link.wait_connected(5)
        await asyncio.gather(
            paris.run_scenario("answered", caller='"Paris Caller" <+33142685300>'),
            tokyo.run_scenario("answered", caller='"Tokyo Caller" <+81312345678>'),
        )
        await asyncio.wait_for(done.wait(), 10)
    finally:
        for feed in feeds:
            await feed.close()
        await bus.stop(grace=1)
        await paris.stop()
        await tokyo.stop()
    assert sorted((c.pbx, c.name) for c in ended) == [
        ("paris", "Paris Caller"),
        ("tokyo", "Tokyo Caller"),
    ]
    assert {name: health.get(f"pbx:{name}") is not None for name in ("paris", "tokyo")} == {
        "paris": True,
        "tokyo": True,
    }
    assert all(metrics.value("cti_ami_events_total", pbx=name) > 0 for name in ("paris", "tokyo"))
