"""The PBX actions the product uses, against the simulator over TCP, seen through the model."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from cti.ami.errors import AmiActionFailed, UnsafeValue
from cti.ami.feed import PbxFeed
from cti.bus import EventBus
from cti.config import PbxConfig, Secret
from cti.core.events import (
    AgentChanged,
    AgentSnapshot,
    AgentState,
    CallEnded,
    CallQueued,
    Direction,
    Outcome,
)
from cti.health import HealthRegistry
from cti.metrics import Metrics
from cti.sim.config import SimulatorConfig
from cti.sim.simulator import SimulatorHandle, run_simulator


class Watch:
    def __init__(self) -> None:
        self.events: list[Any] = []
        self._changed = asyncio.Condition()

    async def collect(self, event: Any) -> None:
        async with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    async def agent(self, name: str, wanted: Callable[[AgentSnapshot], bool]) -> AgentSnapshot:
        def found() -> AgentSnapshot | None:
            """The agent's latest snapshot, if it is the one wanted."""
            latest = next(
                (
                    e.agent
                    for e in reversed(self.events)
                    if isinstance(e, AgentChanged) and e.agent.name == name
                ),
                None,
            )
            return latest if latest is not None and wanted(latest) else None

        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(lambda: found() is not None)
        agent = found()
        assert agent is not None
        return agent

    async def queued(self) -> Any:
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(
                lambda: any(isinstance(e, CallQueued) for e in self.events)
            )
        return next(e.call for e in self.events if isinstance(e, CallQueued))

    async def ended(self) -> Any:
        async with asyncio.timeout(10), self._changed:
            await self._changed.wait_for(lambda: any(isinstance(e, CallEnded) for e in self.events))
        return next(e.call for e in self.events if isinstance(e, CallEnded))


@pytest.fixture
async def pbx() -> AsyncIterator[tuple[PbxFeed, SimulatorHandle, Watch]]:
    simulator = await run_simulator(SimulatorConfig(time_scale=0.05, seed=5))
    metrics = Metrics()
    bus = EventBus(metrics)
    watch = Watch()
    bus.subscribe("test", watch.collect)
    await bus.start()
    feed = PbxFeed(
        PbxConfig(
            name="sim", port=simulator.port, secret=Secret("ctisecret"), outbound_context="outbound"
        ),
        bus=bus,
        health=HealthRegistry(),
        metrics=metrics,
    )
    await feed.start()
    await feed.wait_ready(5)
    yield feed, simulator, watch
    await feed.close()
    await bus.stop(grace=1)
    await simulator.stop()


async def test_click_to_dial_rings_the_agent_then_the_customer(
    pbx: tuple[PbxFeed, SimulatorHandle, Watch],
) -> None:
    feed, _, watch = pbx
    result = await feed.actions.click_to_dial("Local/agent1@agents", "15551230000", ring_seconds=5)
    assert (result.answered, result.reason) == (True, "answered")
    call = await watch.ended()
    assert (call.direction, call.number, call.agent_name, call.outcome) == (
        Direction.OUTBOUND,
        "15551230000",
        "Alice",
        Outcome.ANSWERED,
    )


async def test_click_to_dial_refuses_what_is_not_a_number(
    pbx: tuple[PbxFeed, SimulatorHandle, Watch],
) -> None:
    feed, _, _ = pbx
    with pytest.raises(ValueError, match="digits only"):
        await feed.actions.click_to_dial("Local/agent1@agents", "555\r\nAction: Hangup")
    with pytest.raises(UnsafeValue):
        await feed.actions.pause("Local/agent1@agents/n", paused=True, reason="lunch\r\nX: y")


async def test_pause_with_a_reason_and_unpause(pbx: tuple[PbxFeed, SimulatorHandle, Watch]) -> None:
    feed, _, watch = pbx
    await feed.actions.pause("Local/agent1@agents/n", paused=True, reason="lunch")
    alice = await watch.agent("Alice", lambda a: a.state is AgentState.PAUSED)
    assert (alice.paused_reason, alice.paused_queues) == ("lunch", ("support",))
    await feed.actions.pause("Local/agent1@agents/n", paused=False)
    back = await watch.agent("Alice", lambda a: a.state is AgentState.AVAILABLE)
    assert (back.paused_reason, back.paused_queues) == ("", ())


async def test_dynamic_members_come_and_go_and_static_ones_stay(
    pbx: tuple[PbxFeed, SimulatorHandle, Watch],
) -> None:
    feed, _, watch = pbx
    await feed.actions.add_member(
        "support", "Local/agent4@agents/n", name="Dave", state_interface="Local/agent4@agents"
    )
    dave = await watch.agent("Dave", lambda a: "support" in a.queues)
    assert dave.queues == ("sales", "support")
    await feed.actions.remove_member("support", "Local/agent4@agents/n")
    gone = await watch.agent("Dave", lambda a: "support" not in a.queues)
    assert gone.queues == ("sales",)
    with pytest.raises(AmiActionFailed, match="Member not dynamic"):
        await feed.actions.remove_member("support", "Local/agent1@agents/n")
    with pytest.raises(AmiActionFailed, match="Already there"):
        await feed.actions.add_member("support", "Local/agent1@agents/n")


async def test_hangup_of_a_waiting_caller_is_an_abandon(
    pbx: tuple[PbxFeed, SimulatorHandle, Watch],
) -> None:
    feed, simulator, watch = pbx
    for interface in ("Local/agent1@agents/n", "Local/agent2@agents/n"):
        await feed.actions.pause(interface, paused=True, reason="meeting")
    call = asyncio.create_task(simulator.run_scenario("answered", hold=60))
    waiting = await watch.queued()
    with pytest.raises(AmiActionFailed, match="No such channel"):
        await feed.actions.hangup("Local/nothing-00000000;1")
    # By Uniqueid: the caller's own phone leg, as an agent's "hang up" button would.
    await feed.actions.hangup(waiting.call_id)
    ended = await watch.ended()
    assert (ended.call_id, ended.outcome) == (waiting.call_id, Outcome.ABANDONED)
    await asyncio.wait_for(call, 10)
