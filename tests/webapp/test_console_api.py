"""The console's JSON endpoints with a simulated PBX behind them: click-to-dial and wrap-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from cti import keys
from cti.core.events import CallEnded
from cti.db.models import Call
from tests.simtools import PASSWORD, ready, simulated
from tests.webtools import AppClient, login


@pytest.fixture
async def console(
    tmp_path: Path,
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
    aiohttp_client: Callable[[TestServer], Awaitable[AppClient]],
) -> AsyncIterator[tuple[web.Application, Callable[[str], Awaitable[tuple[AppClient, str]]]]]:
    people = [
        ("alice", "agent", ["Local/agent1@agents"]),
        ("bob", "agent", ["Local/agent2@agents"]),
    ]
    app, simulator = await simulated(tmp_path, people)
    server = await aiohttp_server(app)
    await ready(app)

    async def agent(username: str) -> tuple[AppClient, str]:
        client = await aiohttp_client(server)
        return client, await login(client, username, PASSWORD)

    yield app, agent
    await simulator.stop()


async def ended_call(app: web.Application) -> asyncio.Event:
    done = asyncio.Event()

    async def watch(event: object) -> None:
        done.set()

    app[keys.BUS].subscribe("test-ended", watch, CallEnded)
    return done


async def test_click_to_dial_then_wrap_up_the_call(
    console: tuple[web.Application, Callable[[str], Awaitable[tuple[AppClient, str]]]],
) -> None:
    app, agent = console
    alice, token = await agent("alice")
    done = await ended_call(app)
    dial = await alice.post(
        "/api/dial", json={"number": "(415) 555-0123"}, headers={"X-CSRF-Token": token}
    )
    assert dial.status == 200, await dial.text()
    assert await dial.json() == {"answered": True, "reason": "answered", "dialled": "14155550123"}
    await asyncio.wait_for(done.wait(), 10)
    call = None
    for _ in range(100):  # the call log writes on its next tick
        async with app[keys.DB]() as session:
            call = await session.scalar(
                select(Call).where(Call.direction == "outbound", Call.ended_at.is_not(None))
            )
        if call is not None:
            break
        await asyncio.sleep(0.05)
    assert call is not None
    url = f"/api/calls/{call.pbx}/{call.uniqueid}/wrapup"
    saved = await alice.post(
        url, json={"disposition": "sale", "notes": "<b>ok</b>"}, headers={"X-CSRF-Token": token}
    )
    assert saved.status == 200, await saved.text()
    async with app[keys.DB]() as session:
        row = await session.scalar(select(Call).where(Call.id == call.id))
    assert row is not None
    assert (row.disposition, row.notes, row.caller_number) == ("sale", "<b>ok</b>", "14155550123")

    bob, bob_token = await agent("bob")
    other = await bob.post(
        url, json={"disposition": "sale", "notes": ""}, headers={"X-CSRF-Token": bob_token}
    )
    assert other.status == 409
    assert (await other.json())["error_id"] == "conflict"


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"disposition": "made up"}, 400, "is not one of the configured codes"),
        ({"disposition": "sale", "notes": "x" * 4001}, 400, "at most 4000 characters"),
        ("not an object", 400, "must be a JSON object"),
    ],
)
async def test_wrap_up_input_is_checked(
    console: tuple[web.Application, Callable[[str], Awaitable[tuple[AppClient, str]]]],
    body: object,
    status: int,
    message: str,
) -> None:
    _, agent = console
    alice, token = await agent("alice")
    response = await alice.post(
        "/api/calls/sim/1.1/wrapup", json=body, headers={"X-CSRF-Token": token}
    )
    assert response.status == status
    assert message in (await response.json())["message"]
    missing = await alice.post(
        "/api/calls/sim/1.1/wrapup", json={"disposition": "sale"}, headers={"X-CSRF-Token": token}
    )
    assert missing.status == 404


async def test_dial_refuses_bad_numbers_and_forged_requests(
    console: tuple[web.Application, Callable[[str], Awaitable[tuple[AppClient, str]]]],
) -> None:
    _, agent = console
    alice, token = await agent("alice")
    bad = await alice.post("/api/dial", json={"number": "call me"}, headers={"X-CSRF-Token": token})
    assert bad.status == 400
    assert (
        "cannot be dialled" in (await bad.json())["message"]
        or "not a number" in (await bad.json())["message"]
    )
    forged = await alice.post("/api/dial", json={"number": "5551230000"})
    assert forged.status == 403
