"""An action the manager user may not send, over real TCP against the simulator: the link
reports Asterisk's own answer at once, list actions included."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from cti.ami.errors import AmiActionFailed
from cti.ami.frames import AmiMessage
from cti.ami.link import AmiLink, LoginInfo
from cti.config import PbxConfig, Secret
from cti.health import HealthRegistry
from cti.metrics import Metrics
from cti.sim.config import SimulatorConfig
from cti.sim.simulator import SimulatorHandle, run_simulator


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    handle = await run_simulator(SimulatorConfig(time_scale=0.0, seed=5))
    yield handle
    await handle.stop()


async def _ignore_event(message: AmiMessage, received: float) -> None:
    pass


async def _ignore_login(info: LoginInfo) -> None:
    pass


async def test_a_refused_list_action_fails_at_once_with_asterisks_message(
    sim: SimulatorHandle,
) -> None:
    """CoreShowChannels refused with Permission denied used to wait for a list end that never
    comes, and failed as a timeout after action_timeout."""
    config = PbxConfig(
        name="main",
        port=sim.port,
        username="cti_limited",
        secret=Secret("limitedsecret"),
        action_timeout=3.0,
    )
    link = AmiLink(
        config,
        on_event=_ignore_event,
        on_login=_ignore_login,
        health=HealthRegistry(),
        metrics=Metrics(),
    )
    await link.start()
    try:
        await link.wait_connected(5)
        started = time.monotonic()
        with pytest.raises(AmiActionFailed) as refused:
            await link.send({"Action": "CoreShowChannels"}, as_list=True)
        assert time.monotonic() - started < 1.0
        assert (refused.value.action, refused.value.message) == (
            "CoreShowChannels",
            "Permission denied",
        )
        listing = await link.send({"Action": "QueueStatus"}, as_list=True)
        assert isinstance(listing, list), "the link still serves lists"
        assert len(listing) > 1
    finally:
        await link.close()
