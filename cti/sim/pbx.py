"""The simulated PBX: its clock, channels, devices, queues and the event stream sessions read.

Everything that happens in the PBX is published through `Pbx.emit`, which stamps the event the way
manager.c does (Event, Privilege `<class>,all`, Timestamp) and hands it to every listener.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from cti.sim import cdr
from cti.sim.clock import SimClock
from cti.sim.config import SimulatorConfig
from cti.sim.queue_log import QueueLog
from cti.sim.queues import build_queues
from cti.sim.wire import Fields, encode

if TYPE_CHECKING:
    from cti.sim.channels import Channel
    from cti.sim.plans import CallPlan
    from cti.sim.queues import QueueState

logger = logging.getLogger(__name__)


class Listener(Protocol):
    def deliver(self, category: str, payload: bytes) -> None: ...


class Devices:
    """Device states derived from the channels of each device.

    As in every capture, each state change or hangup of a device's channel publishes the
    device's state (so a Local device shows INUSE twice when both halves come up, NOT_INUSE
    twice when they go), while the queues hear only about real changes. Queue:* pseudo-devices
    publish on change.
    """

    def __init__(self, pbx: Pbx) -> None:
        self._pbx = pbx
        self.states: dict[str, str] = {}
        self.channels: dict[str, set[Channel]] = {}
        self.watchers: list[Callable[[str, str], None]] = []

    def state(self, device: str) -> str:
        return self.states.get(device, "NOT_INUSE")

    def refresh(self, device: str) -> None:
        states = {c.state for c in self.channels.get(device, ()) if not c.gone}
        if device.startswith("Local/"):
            # A Local device is in use once a half leaves Down/Ring (core_local.c).
            state = "INUSE" if states - {0, 4} else "NOT_INUSE"
        elif states & {6, 7}:
            state = "INUSE"
        else:
            state = "RINGING" if 5 in states else "NOT_INUSE"
        self._pbx.emit("DeviceStateChange", "call", [("Device", device), ("State", state)])
        if self.state(device) == state:
            return
        self.states[device] = state
        for watcher in self.watchers:
            watcher(device, state)

    def publish(self, device: str, state: str, *, force: bool = False) -> None:
        """A Queue:* pseudo-device (callers waiting, members available, member paused)."""
        if self.states.get(device) == state and not force:
            return
        self.states[device] = state
        self._pbx.emit("DeviceStateChange", "call", [("Device", device), ("State", state)])


class Pbx:
    def __init__(self, config: SimulatorConfig, clock: SimClock, rng: random.Random) -> None:
        self.config = config
        self.clock = clock
        self.rng = rng
        self.listeners: list[Listener] = []
        self.channels: dict[str, Channel] = {}
        self.by_uniqueid: dict[str, Channel] = {}
        self.plans: dict[str, CallPlan] = {}
        self.devices = Devices(self)
        self.pending: set[str] = set()
        # Global dialplan variables (Setvar without a channel); a restart forgets them.
        self.globals: dict[str, str] = {}
        self.muted = False
        self.booted = clock.now() - config.uptime
        self.calls_processed = 0
        self.originated = 0
        self._seq = 0
        self._names: dict[str, int] = {}
        self._linked: dict[str, int] = {}
        self._ended: dict[str, asyncio.Future[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.queue_log = QueueLog(config.queue_log, clock)
        self.queues: dict[str, QueueState] = build_queues(self)
        self.queue_log.write("NONE", "NONE", "NONE", "QUEUESTART", "")

    def emit(self, name: str, category: str, fields: Fields) -> None:
        self.clock.touch()
        if self.muted or not self.listeners:
            return
        head = [("Event", name), ("Privilege", f"{category},all")]
        payload = encode([*head, ("Timestamp", f"{self.clock.now():.6f}"), *fields])
        for listener in list(self.listeners):
            listener.deliver(category, payload)

    def new_uniqueid(self) -> str:
        uid = f"{int(self.clock.now())}.{self._seq}"
        self._seq += 1
        return uid

    def channel_name(self, base: str) -> str:
        """`base-0000001d`: each technology numbers its channels in hex (Local counts pairs)."""
        tech = base.split("/", 1)[0]
        number = self._names.get(tech, 0)
        self._names[tech] = number + 1
        return f"{base}-{number:08x}"

    def register(self, chan: Channel) -> None:
        self.channels[chan.name] = chan
        self.by_uniqueid[chan.uniqueid] = chan
        self.devices.channels.setdefault(chan.device, set()).add(chan)
        self._linked[chan.linkedid] = self._linked.get(chan.linkedid, 0) + 1

    def unregister(self, chan: Channel) -> None:
        self.channels.pop(chan.name, None)
        self.by_uniqueid.pop(chan.uniqueid, None)
        same_device = self.devices.channels.get(chan.device)
        if same_device is not None:
            same_device.discard(chan)
            if not same_device:
                del self.devices.channels[chan.device]
        self.devices.refresh(chan.device)
        if self._release(chan.linkedid):
            cdr.cel(self, chan, "LINKEDID_END")

    def relink(self, chan: Channel, linkedid: str) -> None:
        """A channel adopted another linkedid (bridging); keep the live-channel counts right."""
        if chan.linkedid == linkedid:
            return
        self._release(chan.linkedid)
        chan.linkedid = linkedid
        self._linked[linkedid] = self._linked.get(linkedid, 0) + 1

    def _release(self, linkedid: str) -> bool:
        """One channel of the call is gone; True when it was the last one."""
        left = self._linked.get(linkedid, 1) - 1
        if left > 0:
            self._linked[linkedid] = left
            return False
        self._linked.pop(linkedid, None)
        self.plans.pop(linkedid, None)
        ended = self._ended.pop(linkedid, None)
        if ended is not None and not ended.done():
            ended.set_result(None)
        return True

    def ended(self, linkedid: str) -> asyncio.Future[None]:
        """Completes when the last channel of the call (its linkedid) has hung up."""
        fut = self._ended.get(linkedid)
        if fut is None:
            fut = asyncio.get_running_loop().create_future()
            if linkedid not in self._linked:
                fut.set_result(None)
            else:
                self._ended[linkedid] = fut
        return fut

    def is_phone(self, device: str) -> bool:
        """An agent phone: the device of a queue member (static or added) or of a profile."""
        if any(a.device == device for a in self.config.agents):
            return True
        return any(m.state_interface == device for q in self.queues.values() for m in q.members)

    def find(self, name_or_uniqueid: str) -> Channel | None:
        return self.channels.get(name_or_uniqueid) or self.by_uniqueid.get(name_or_uniqueid)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "simulated call task %s failed", task.get_name(), exc_info=task.exception()
            )

    async def reset(self) -> None:
        """What a restart leaves: no calls, static members only, fresh counters and uptime.

        Calls vanish without Hangup events (ground truth §1.10), so the PBX is muted meanwhile.
        """
        self.muted = True
        try:
            await self.cancel_tasks()
        finally:
            self.muted = False
        self.channels.clear()
        self.by_uniqueid.clear()
        self.plans.clear()
        self.pending.clear()
        self._linked.clear()
        for fut in self._ended.values():
            if not fut.done():
                fut.set_result(None)
        self._ended.clear()
        self.globals.clear()
        self.devices = Devices(self)
        self.queues = build_queues(self)
        self._seq = 0
        self.calls_processed = 0
        self.booted = self.clock.now()
        self.queue_log.write("NONE", "NONE", "NONE", "QUEUESTART", "")

    async def cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
