"""Our numbers agree with the PBX's own: a simulated shift through the whole pipeline, then
QueueStatus asked of the PBX, queue by queue (Completed, Abandoned, Holdtime, TalkTime)."""

from __future__ import annotations

import asyncio
from typing import Any

from cti.ami.feed import PbxFeed
from cti.ami.frames import first
from cti.bus import EventBus
from cti.config import PbxConfig, Secret
from cti.core.events import CallEnded
from cti.core.kpi import PbxStatCall, pbx_queue_stats
from cti.health import HealthRegistry
from cti.metrics import Metrics
from cti.sim.config import Mix, SimulatorConfig
from cti.sim.simulator import run_simulator

SHIFT = SimulatorConfig(
    time_scale=0.004,
    seed=17,
    calls_per_minute=40.0,
    mix=Mix(
        answered=60,
        abandoned=20,
        ring_no_answer=5,
        dump=0,
        queue_timeout=10,
        busy=5,
        direct=0,
        outbound=0,
    ),
    talk_seconds=(5.0, 40.0),
    patience_seconds=(2.0, 40.0),
)


async def test_a_simulated_shift_agrees_with_queue_status() -> None:
    simulator = await run_simulator(SHIFT)
    metrics = Metrics()
    bus = EventBus(metrics)
    ended: list[Any] = []

    async def collect(event: Any) -> None:
        ended.append(event.call)

    bus.subscribe("test", collect, CallEnded)
    await bus.start()
    feed = PbxFeed(
        PbxConfig(name="sim", port=simulator.port, secret=Secret("ctisecret")),
        bus=bus,
        health=HealthRegistry(),
        metrics=metrics,
    )
    try:
        await feed.start()
        await feed.wait_ready(5)
        simulator.start_traffic()
        await asyncio.sleep(4)  # about 16 simulated minutes
        await simulator.stop_traffic()
        async with asyncio.timeout(20):
            while len(feed.state.calls):  # noqa: ASYNC110 - the calls still up run to their end
                await asyncio.sleep(0.05)
        await bus.drain()
        reply = await feed.link.send({"Action": "QueueStatus"}, as_list=True)
    finally:
        await feed.close()
        await bus.stop(grace=1)
        await simulator.stop()
    params = {
        first(item.frame, "Queue"): item.frame
        for item in (reply if isinstance(reply, list) else [reply])
        if first(item.frame, "Event") == "QueueParams"
    }
    checked = 0
    for queue in ("support", "sales"):
        ours = pbx_queue_stats(
            PbxStatCall(
                c.outcome.value, c.answered_at, c.ended_at, c.pbx_hold_seconds, c.pbx_talk_seconds
            )
            for c in ended
            if c.queue == queue and c.outcome is not None
        )
        theirs = params[queue]
        assert (ours.completed, ours.abandoned, ours.holdtime, ours.talktime) == (
            int(first(theirs, "Completed")),
            int(first(theirs, "Abandoned")),
            int(first(theirs, "Holdtime")),
            int(first(theirs, "TalkTime")),
        ), queue
        checked += ours.completed + ours.abandoned
    assert checked >= 20, "the shift was too quiet to show anything"
