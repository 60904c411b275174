"""Fixtures for the simulator tests: a running simulator and logged-in clients, cleaned up."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from cti.sim import SimulatorConfig, SimulatorHandle, run_simulator
from cti.sim.config import RIG_QUEUES, RIG_ROUTES
from tests.sim.client import AmiTestClient

StartSim = Callable[..., Awaitable[SimulatorHandle]]
Connect = Callable[..., Awaitable[AmiTestClient]]

# The first eight captures predate CEL, the LinkedID CDR mapping, setinterfacevar and the
# queues other than support and sales (tests/data/ami-traces/README.md).
OLD_RIG_CAPTURES = frozenset(
    {
        "answered",
        "ringnoanswer",
        "abandon",
        "anonymous",
        "clicktodial",
        "restart",
        "status",
        "badlogin",
    }
)


def rig_config(capture: str, **overrides: Any) -> SimulatorConfig:
    """The simulator set up as the rig was when `capture` was recorded (virtual clock)."""
    values: dict[str, Any] = {"time_scale": 0.0, "seed": 7, "complete_without_channels": 0.0}
    if capture in OLD_RIG_CAPTURES:
        queues = tuple(dataclasses.replace(q, interface_vars=False) for q in RIG_QUEUES[:2])
        names = {q.name for q in queues}
        values.update(
            queues=queues,
            routes=tuple(r for r in RIG_ROUTES if r.kind != "queue" or r.target in names),
            cel=False,
            cdr_linkedid=False,
        )
    values.update(overrides)
    return SimulatorConfig(**values)


@pytest.fixture
async def start_sim() -> AsyncIterator[StartSim]:
    handles: list[SimulatorHandle] = []

    async def start(config: SimulatorConfig | None = None, **overrides: Any) -> SimulatorHandle:
        if config is None:
            config = SimulatorConfig(**{"time_scale": 0.0, "seed": 7, **overrides})
        handle = await run_simulator(config)
        handles.append(handle)
        return handle

    yield start
    for handle in handles:
        await handle.stop()


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    clients: list[AmiTestClient] = []

    async def open_client(
        sim: SimulatorHandle, *, login: bool = True, **headers: str
    ) -> AmiTestClient:
        client = await AmiTestClient.connect(sim.port)
        clients.append(client)
        if login:
            await client.login(**headers)
        return client

    yield open_client
    for client in clients:
        await client.close()
