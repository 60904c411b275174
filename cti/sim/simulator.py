"""The running simulator: a PBX behind an AMI server, with traffic and scenarios on demand.

sim = await run_simulator(SimulatorConfig(time_scale=0.01))
... connect to 127.0.0.1:sim.port, log in as cti/ctisecret (or cti_limited/limitedsecret) ...
await sim.run_scenario("answered")
await sim.stop()
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any

from cti.sim.clock import SimClock
from cti.sim.config import SimulatorConfig
from cti.sim.pbx import Pbx
from cti.sim.scenarios import Params, run_scenario
from cti.sim.server import AmiServer
from cti.sim.traffic import Traffic

logger = logging.getLogger(__name__)

# After `core restart now` the issuing session got EOF 1.1 s later (restart.jsonl).
RESTART_DELAY = 1.1


class SimulatorHandle:
    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.port = 0
        self.clock = SimClock(config.time_scale)
        self.pbx = Pbx(config, self.clock, random.Random(config.seed))
        self.server = AmiServer(self.pbx, self._restart_requested)
        self.traffic = Traffic(self.pbx)
        self._traffic_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> None:
        self.port = await self.server.start(self.config.host, self.config.port)

    async def stop(self) -> None:
        await self.stop_traffic()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.server.close()
        self.pbx.muted = True
        await self.pbx.cancel_tasks()
        self.pbx.queue_log.close()
        await self.clock.close()

    async def restart(self, downtime: float = 0.0) -> None:
        """Like `core restart now`: sessions get EOF with no Shutdown event, calls vanish,
        dynamic members and pauses are lost and Uptime starts again. With a downtime (PBX
        seconds) the port refuses connections meanwhile.
        """
        if downtime > 0:
            await self.server.close()
        else:
            await self.server.drop_sessions()
        await self.pbx.reset()
        if downtime > 0:
            await self.clock.sleep(downtime)
            await self.server.start(self.config.host, self.port)
            self.pbx.booted = self.clock.now()
        logger.info("simulated PBX restarted")

    async def cut_link(self, seconds: float) -> None:
        """The network to the AMI clients fails for `seconds` (PBX time): sessions drop and
        connections are refused, while the PBX and its calls go on."""
        await self.server.close()
        await self.clock.sleep(seconds)
        await self.server.start(self.config.host, self.port)
        logger.info("simulated AMI link back after %g s", seconds)

    def _restart_requested(self) -> None:
        async def later() -> None:
            await self.clock.sleep(RESTART_DELAY)
            await self.restart()

        task = asyncio.get_running_loop().create_task(later(), name="sim-restart")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def run_scenario(self, name: str, **params: Any) -> list[str]:
        """Run one named scenario (see cti.sim.scenarios) to its end; the calls' linkedids."""
        return await run_scenario(self.pbx, name, Params(**params))

    def start_traffic(self) -> None:
        if self._traffic_task is None or self._traffic_task.done():
            self._traffic_task = asyncio.get_running_loop().create_task(
                self.traffic.run(), name="sim-traffic"
            )

    async def stop_traffic(self) -> None:
        task, self._traffic_task = self._traffic_task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def run_simulator(config: SimulatorConfig | None = None) -> SimulatorHandle:
    """Start a simulated Asterisk 22 listening for AMI clients; stop it with `await .stop()`."""
    handle = SimulatorHandle(config or SimulatorConfig())
    await handle.start()
    return handle
