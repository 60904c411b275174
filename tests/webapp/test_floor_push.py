"""The supervisors' live floor over a real WebSocket: pushes, resume, and who may listen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, Literal

import aiohttp
import pytest
from aiohttp import web

from cti import keys
from cti.app import create_app
from cti.config import Config, PrivacyConfig
from cti.core.events import (
    AgentChanged,
    AgentSnapshot,
    AgentState,
    CallQueued,
    CallSnapshot,
    Direction,
)
from cti.webapp.push import HISTORY
from tests.webtools import AppClient, login

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def agent(name: str, state: AgentState) -> AgentChanged:
    return AgentChanged(
        AgentSnapshot(
            pbx="main",
            interface=f"PJSIP/{name}",
            name=name,
            state_interface=f"PJSIP/{name}",
            queues=("support",),
            paused_queues=(),
            state=state,
            since=NOW,
            paused_reason="",
            call_id="",
        )
    )


async def socket(client: AppClient, since: int | None = None) -> aiohttp.ClientWebSocketResponse:
    query = "" if since is None else f"?since={since}"
    origin = str(client.make_url("")).rstrip("/")
    return await client.ws_connect(f"/ws/floor{query}", headers={"Origin": origin})


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message: dict[str, Any] = await ws.receive_json(timeout=5)
    return message


async def test_agent_changes_reach_the_supervisor_socket_in_order(client: AppClient) -> None:
    await login(client, "supervisor")
    ws = await socket(client, since=0)
    bus = client.app[keys.BUS]
    bus.publish(agent("alice", AgentState.RINGING))
    bus.publish(agent("alice", AgentState.IN_CALL))
    first, second = await receive(ws), await receive(ws)
    assert (first["kind"], first["data"]["name"], first["data"]["state"]) == (
        "agent",
        "alice",
        "ringing",
    )
    assert second["data"]["state"] == "in-call"
    assert second["seq"] == first["seq"] + 1
    await ws.close()


async def test_a_page_that_reconnects_gets_what_it_missed(client: AppClient) -> None:
    await login(client, "supervisor")
    bus = client.app[keys.BUS]
    bus.publish(agent("alice", AgentState.AVAILABLE))
    bus.publish(agent("bob", AgentState.PAUSED))
    bus.publish(agent("carol", AgentState.RINGING))
    await bus.drain()
    ws = await socket(client, since=1)
    missed = [await receive(ws), await receive(ws)]
    assert [(m["seq"], m["data"]["name"]) for m in missed] == [(2, "bob"), (3, "carol")]
    await ws.close()


async def test_a_page_too_far_behind_is_told_to_reload(client: AppClient) -> None:
    await login(client, "supervisor")
    bus = client.app[keys.BUS]
    for _ in range(HISTORY + 5):
        bus.publish(agent("alice", AgentState.AVAILABLE))
    await bus.drain()
    ws = await socket(client, since=1)
    assert (await receive(ws))["kind"] == "reload"
    await ws.close()
    ahead = await socket(client, since=10**6)
    assert (await receive(ahead))["kind"] == "reload", "seq from before a server restart"
    await ahead.close()


async def test_agents_and_other_sites_may_not_listen(
    client: AppClient, client_factory: Callable[..., Awaitable[AppClient]]
) -> None:
    await login(client, "agent")
    response = await client.get("/ws/floor", headers={"Origin": "http://x"})
    assert response.status == 403
    client = await client_factory()
    await login(client, "supervisor")
    forged = await client.get(
        "/ws/floor",
        headers={"Origin": "https://evil.example", "Upgrade": "websocket", "Connection": "Upgrade"},
    )
    assert forged.status == 403


async def test_the_floor_page_renders_for_supervisors_only(
    client: AppClient, client_factory: Callable[..., Awaitable[AppClient]]
) -> None:
    await login(client, "agent")
    assert (await client.get("/floor")).status == 403
    client = await client_factory()
    await login(client, "supervisor")
    page = await client.get("/floor")
    assert page.status == 200
    assert 'id="floor-data"' in await page.text()


def waiting_call(withheld: bool) -> CallQueued:
    return CallQueued(
        CallSnapshot(
            pbx="main",
            call_id=f"{withheld}.1",
            linkedid=f"{withheld}.1",
            direction=Direction.INBOUND,
            number="+14155550115",
            name="Hidden Person",
            withheld=withheld,
            queue="support",
            agent_interface="",
            agent_name="",
            started_at=NOW,
            enqueued_at=NOW,
            dequeued_at=None,
            first_ring_at=None,
            answered_at=None,
            ended_at=None,
            outcome=None,
            hangup_cause=None,
            end_reason="",
            recording="",
            attempts=(),
        )
    )


@pytest.mark.parametrize(("roles", "shown"), [(["supervisor", "admin"], True), (["admin"], False)])
async def test_the_floor_shows_a_withheld_caller_only_if_supervisors_may_see_them(
    aiohttp_client: Callable[[web.Application], Awaitable[AppClient]],
    web_config: Config,
    roles: list[Literal["agent", "supervisor", "admin"]],
    shown: bool,
) -> None:
    config = replace(web_config, privacy=PrivacyConfig(show_withheld_to=roles))
    client = await aiohttp_client(create_app(config))
    await login(client, "supervisor")
    ws = await socket(client, since=0)
    client.app[keys.BUS].publish(waiting_call(withheld=False))
    client.app[keys.BUS].publish(waiting_call(withheld=True))
    plain, withheld = (await receive(ws))["data"], (await receive(ws))["data"]
    assert (plain["number"], plain["name"], plain["withheld"]) == (
        "+14155550115",
        "Hidden Person",
        False,
    )
    assert withheld["withheld"]
    assert (withheld["number"], withheld["name"]) == (
        ("+14155550115", "Hidden Person") if shown else ("", "")
    )
    await ws.close()
