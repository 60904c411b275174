"""The supervisors' live floor over a real WebSocket: pushes, resume, and who may listen."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from cti import keys
from cti.core.events import AgentChanged, AgentSnapshot, AgentState
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
