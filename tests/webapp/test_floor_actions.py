"""Supervisor actions from the floor over HTTP, against the simulator, and who may take them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.simtools import PASSWORD, ready, simulated
from tests.webtools import AppClient, login

Clients = Callable[[str], Awaitable[tuple[AppClient, str]]]


@pytest.fixture
async def board(
    tmp_path: Path,
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
    aiohttp_client: Callable[[TestServer], Awaitable[AppClient]],
) -> AsyncIterator[Clients]:
    app, simulator = await simulated(tmp_path, [("sam", "supervisor", []), ("alice", "agent", [])])
    server = await aiohttp_server(app)
    await ready(app)

    async def user(username: str) -> tuple[AppClient, str]:
        client = await aiohttp_client(server)
        return client, await login(client, username, PASSWORD)

    yield user
    await simulator.stop()


async def post(
    client: AppClient, token: str, path: str, body: object
) -> tuple[int, dict[str, object]]:
    response = await client.post(path, json=body, headers={"X-CSRF-Token": token})
    return response.status, await response.json()


async def test_pause_add_and_remove_members(board: Clients) -> None:
    sam, token = await board("sam")
    assert await post(
        sam,
        token,
        "/api/pbx/sim/pause",
        {"interface": "Local/agent1@agents/n", "paused": True, "reason": "lunch"},
    ) == (200, {"done": True})
    assert (
        await post(
            sam,
            token,
            "/api/pbx/sim/pause",
            {"interface": "Local/agent1@agents/n", "paused": False},
        )
    )[0] == 200
    add = {"interface": "Local/agent4@agents/n", "name": "Dave"}
    assert (await post(sam, token, "/api/pbx/sim/queues/support/members", add))[0] == 200
    remove = {"interface": "Local/agent4@agents/n"}
    assert (await post(sam, token, "/api/pbx/sim/queues/support/members/remove", remove))[0] == 200
    status, body = await post(
        sam,
        token,
        "/api/pbx/sim/queues/support/members/remove",
        {"interface": "Local/agent1@agents/n"},
    )
    assert status == 502
    assert "Member not dynamic" in str(body["message"])


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        (
            "/api/pbx/sim/pause",
            {"interface": "x", "paused": True, "reason": "nap"},
            400,
            "is not one of",
        ),
        ("/api/pbx/sim/pause", {"interface": "x", "paused": "yes"}, 400, "true or false"),
        ("/api/pbx/sim/pause", {"paused": True, "reason": "lunch"}, 400, "'interface' must be"),
        ("/api/pbx/nope/pause", {"interface": "x", "paused": False}, 404, "no PBX named 'nope'"),
        ("/api/pbx/sim/pause", ["not", "an", "object"], 400, "JSON object"),
    ],
)
async def test_bad_requests_get_clear_errors(
    board: Clients, path: str, body: object, status: int, message: str
) -> None:
    sam, token = await board("sam")
    got, reply = await post(sam, token, path, body)
    assert got == status
    assert message in str(reply["message"])


async def test_agents_cannot_act_on_the_floor(board: Clients) -> None:
    alice, token = await board("alice")
    status, _ = await post(
        alice,
        token,
        "/api/pbx/sim/pause",
        {"interface": "Local/agent2@agents/n", "paused": True, "reason": "lunch"},
    )
    assert status == 403
