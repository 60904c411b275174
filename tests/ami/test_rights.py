"""The rights check and the resync at login, over real TCP against the simulator and the capture
replay server: what is missing is reported once with what it costs, a refused CoreShowChannels
still leaves the queue members known, and a failed resync is retried until the PBX answers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cti.config import Secret
from cti.core.events import CallRinging
from cti.health import ComponentHealth, HealthRegistry
from cti.sim.config import SimulatorConfig
from cti.sim.simulator import SimulatorHandle, run_simulator
from tests.ami.fake_ami import eventually
from tests.ami.feeding import Feeding, running_feed
from tests.ami.replay_server import replaying

LIMITED = {"username": "cti_limited", "secret": Secret("limitedsecret")}


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    handle = await run_simulator(SimulatorConfig(time_scale=0.01, seed=11))
    yield handle
    await handle.stop()


def feeding(port: int, health: HealthRegistry, **settings: Any) -> Feeding:
    return running_feed(port, health=health, **{"name": "main", **settings})


async def test_too_few_rights_are_reported_once_and_pops_still_find_their_agents(
    sim: SimulatorHandle, caplog: pytest.LogCaptureFixture
) -> None:
    """The rig's cti_limited: CoreShowChannels is refused at once, so the resync used to time
    out and be skipped, the queue members stayed unknown and pops went to nobody."""
    caplog.set_level(logging.INFO, logger="cti")
    health = HealthRegistry()
    filters = {"event_filter": ["!Event: Newexten"]}
    async with feeding(sim.port, health, action_timeout=5.0, **LIMITED, **filters) as (feed, seen):
        await feed.wait_ready(3)
        assert feed.state.floor.devices_of("Local/agent1@agents/n") == (
            "Local/agent1@agents/n",
            "Local/agent1@agents",
        )
        await eventually(lambda: health.get("pbx:main:rights") is not None, 5)
        await sim.run_scenario("answered")
        await eventually(lambda: any(isinstance(e, CallRinging) for e in seen), 5)
    rights = health.get("pbx:main:rights")
    assert rights is not None
    assert rights.status == "degraded"
    assert rights.reason == (
        "missing read system, read dialplan, write CoreShowChannels, write Filter; "
        "cti checks again at every login"
    )
    assert [d.split(":")[0] for d in rights.details] == [
        "read system (manager.conf read=; no FullyBooted after Login, or the PBX was still "
        "booting)",
        "read dialplan (manager.conf read=; no VarSet for CTI_DIALPLAN_READ_CHECK within 2 s)",
        "write CoreShowChannels (manager.conf write=system or reporting)",
        "write Filter (manager.conf write=system)",
    ]
    assert "queue timeouts are logged as abandons" in rights.details[1]
    assert health.get("pbx:main:resync") == ComponentHealth(
        "degraded",
        "queues and members only: CoreShowChannels is not allowed",
        (
            "the resync reads queues and members only: calls up at login are not followed and "
            "calls that ended while the link was down stay open",
        ),
    )
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("pbx:main:rights")]
    assert len(said) == 1, said
    assert "click-to-dial" not in said[0], "Originate is allowed"
    assert "queue timeouts are logged as abandons" in said[0]


async def test_full_rights_are_confirmed_by_the_events_that_come(sim: SimulatorHandle) -> None:
    health = HealthRegistry()
    async with feeding(sim.port, health) as (feed, _):
        await feed.wait_ready(3)
        await eventually(lambda: health.get("pbx:main:rights") is not None, 5)
        assert health.get("pbx:main:rights") == ComponentHealth(
            "ok", "read call, agent not confirmed yet (no such event since login)"
        )
        assert health.get("pbx:main:resync") == ComponentHealth(
            "ok", "queues, members and calls read"
        )
        await sim.run_scenario("answered")
        await eventually(
            lambda: health.get("pbx:main:rights") == ComponentHealth("ok", "all rights granted")
        )


async def test_a_class_not_asked_for_in_events_is_reported_missing(sim: SimulatorHandle) -> None:
    health = HealthRegistry()
    async with feeding(sim.port, health, events="call,agent,system") as (feed, _):
        await feed.wait_ready(3)
        await eventually(lambda: health.get("pbx:main:rights") is not None, 5)
    rights = health.get("pbx:main:rights")
    assert rights is not None
    assert rights.status == "degraded"
    assert rights.details[0].startswith("read dialplan (not asked for in pbx.events): ")


async def test_a_resync_without_an_answer_is_retried_until_the_pbx_answers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A QueueStatus answered too late failed the resync, which was then skipped for good."""
    caplog.set_level(logging.INFO, logger="cti")
    health = HealthRegistry()
    async with (
        replaying("answered", 1500, stall=1.0) as server,
        feeding(server.port, health, action_timeout=0.4, reconnect_min=0.05) as (feed, _),
    ):
        await feed.wait_ready(5)
        assert feed.resyncs == 1
        assert server.actions.count("queuestatus") >= 2
    said = [r.getMessage() for r in caplog.records if r.name == "cti.health"]
    assert [m for m in said if m.startswith("pbx:main:resync")] == [
        "pbx:main:resync is failed: cannot resync: QueueStatus: no reply within 0.4 s; retrying",
        "pbx:main:resync is ok: queues, members and calls read",
    ]
