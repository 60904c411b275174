"""/healthz over real HTTP, with the PBX simulator and the capture replay server behind the
service: 503 while a PBX link is down or cannot resync, 200 with notes when it serves degraded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web

from cti.app import create_app
from cti.config import Config, PbxConfig, Secret
from cti.sim.config import SimulatorConfig
from cti.sim.simulator import SimulatorHandle, run_simulator
from tests.ami.replay_server import replaying
from tests.webtools import AppClient

TOKEN = "health-probe"
Serve = Callable[..., Awaitable[AppClient]]
Body = dict[str, Any]


@pytest.fixture
def serve(
    aiohttp_client: Callable[[web.Application], Awaitable[AppClient]], web_config: Config
) -> Serve:
    async def make(**pbx: Any) -> AppClient:
        settings: dict[str, Any] = {"name": "main", "secret": Secret("ctisecret")} | pbx
        config = replace(
            web_config,
            pbx=[PbxConfig(**settings)],
            server=replace(web_config.server, metrics_token=Secret(TOKEN)),
        )
        return await aiohttp_client(create_app(config))

    return make


@pytest.fixture
async def sim() -> AsyncIterator[SimulatorHandle]:
    handle = await run_simulator(SimulatorConfig(time_scale=0.01, seed=4))
    yield handle
    await handle.stop()


async def health_until(
    client: AppClient, done: Callable[[int, Body], bool], within: float = 5.0
) -> tuple[int, Body]:
    """Poll /healthz as a monitor would, until `done(status, body)`."""
    async with asyncio.timeout(within):
        while True:
            response = await client.get("/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
            status, body = response.status, await response.json()
            if done(status, body):
                return status, body
            await asyncio.sleep(0.02)


def component(body: Body, name: str) -> Body:
    components: dict[str, Body] = body["components"]
    return components.get(name, {})


async def test_503_once_the_pbx_dies_200_while_it_serves(serve: Serve) -> None:
    sim = await run_simulator(SimulatorConfig(time_scale=0.01, seed=4))
    try:
        client = await serve(port=sim.port, reconnect_min=0.05, reconnect_max=0.2)
        await health_until(client, lambda s, b: component(b, "pbx:main:resync") != {})
        status, body = await health_until(client, lambda s, b: True)
        assert (status, body["status"]) == (200, "ok")
    finally:
        await sim.stop()
    status, body = await health_until(client, lambda s, b: s != 200)
    assert (status, body["status"]) == (503, "failed")
    pbx = component(body, "pbx:main")
    assert pbx["status"] == "failed"
    assert pbx["reason"].startswith("reconnecting: ")


async def test_503_while_the_pbx_is_frozen(serve: Serve) -> None:
    """A PBX that keeps the TCP connection open but answers nothing (here for 3 s)."""
    async with replaying("answered", 1500, stall=3.0) as server:
        client = await serve(
            port=server.port, ping_interval=0.3, ping_timeout=0.2, reconnect_min=1.0
        )
        status, body = await health_until(
            client, lambda s, b: "Ping" in component(b, "pbx:main").get("reason", "")
        )
        assert status == 503
        assert component(body, "pbx:main") == {
            "status": "failed",
            "reason": "reconnecting: no reply to Ping within 0.2 s",
            "notes": [],
        }


async def test_503_while_the_pbx_cannot_resync_then_200(serve: Serve) -> None:
    async with replaying("answered", 1500, stall=1.5) as server:
        client = await serve(port=server.port, action_timeout=0.3, reconnect_min=0.05)
        status, body = await health_until(
            client, lambda s, b: component(b, "pbx:main:resync").get("status") == "failed"
        )
        assert status == 503
        assert component(body, "pbx:main:resync")["reason"] == (
            "cannot resync: QueueStatus: no reply within 0.3 s; retrying"
        )
        assert component(body, "pbx:main")["status"] == "ok", "the link itself is up"
        status, body = await health_until(client, lambda s, b: s == 200)
        assert component(body, "pbx:main:resync")["status"] == "ok"


async def test_missing_rights_are_listed_with_what_will_not_work(
    serve: Serve, sim: SimulatorHandle
) -> None:
    client = await serve(
        port=sim.port, username="cti_limited", secret=Secret("limitedsecret"), action_timeout=3.0
    )
    status, body = await health_until(client, lambda s, b: component(b, "pbx:main:rights") != {})
    assert (status, body["status"]) == (200, "degraded")
    rights = component(body, "pbx:main:rights")
    assert rights["status"] == "degraded"
    assert rights["reason"].startswith("missing read system, read dialplan, write CoreShowChannels")
    assert any("queue timeouts are logged as abandons" in n for n in rights["notes"])
    resync = component(body, "pbx:main:resync")
    assert (resync["status"], resync["reason"]) == (
        "degraded",
        "queues and members only: CoreShowChannels is not allowed",
    )


async def test_an_interface_that_rings_nobody_shows_in_healthz(
    serve: Serve, sim: SimulatorHandle
) -> None:
    """The screen-pop's note was only logged: /healthz listed components that reported a
    status, and the screen-pop never reports one."""
    client = await serve(port=sim.port)
    await health_until(client, lambda s, b: component(b, "pbx:main:resync") != {})
    await sim.run_scenario("answered")
    status, body = await health_until(client, lambda s, b: component(b, "screenpop") != {})
    assert status == 200
    assert component(body, "screenpop") == {
        "status": "degraded",
        "reason": "",
        "notes": ["main: Local/agent1@agents/n rings no cti user (add it to a user's devices)"],
    }
