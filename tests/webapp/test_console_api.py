"""The console's JSON endpoints with a simulated PBX behind them: click-to-dial and wrap-up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from cti import keys
from cti.core.events import CallEnded
from cti.core.numbers import normalize
from cti.db import customers
from cti.db.models import Call
from cti.sim.config import RIG_AGENTS, AgentProfile
from tests.simtools import PASSWORD, ready, simulated
from tests.webtools import AppClient, login

# Desk phones beside the rig's agents: one stays on the line a minute (the rig's agents hang up
# after a few seconds, before a customer's 20 s of ringing is over), one is never picked up.
PATIENT = AgentProfile("Local/agent10@agents", "answer", 1, 60)
AWAY = AgentProfile("Local/agent11@agents", "never", 120, 0)


@pytest.fixture
async def console(
    tmp_path: Path,
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
    aiohttp_client: Callable[[TestServer], Awaitable[AppClient]],
) -> AsyncIterator[tuple[web.Application, Callable[[str], Awaitable[tuple[AppClient, str]]]]]:
    people = [
        ("alice", "agent", ["Local/agent1@agents"]),
        ("bob", "agent", ["Local/agent2@agents"]),
        ("patty", "agent", [PATIENT.device]),
        ("away", "agent", [AWAY.device]),
        ("frank", "agent", ["Local/agent6@agents"]),
    ]
    app, simulator = await simulated(tmp_path, people, agents=(*RIG_AGENTS, PATIENT, AWAY))
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
    call = await logged_outbound_call(app)
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


async def logged_outbound_call(app: web.Application) -> Call:
    for _ in range(100):  # the call log writes on its next tick
        async with app[keys.DB]() as session:
            call: Call | None = await session.scalar(
                select(Call).where(Call.direction == "outbound", Call.ended_at.is_not(None))
            )
        if call is not None:
            return call
        await asyncio.sleep(0.05)
    raise AssertionError("no ended outbound call in the call log")


@pytest.mark.parametrize(
    ("username", "typed", "reply", "outcome"),
    [
        # The rig's busy customer: the agent answers, Dial() gets BUSY.
        ("patty", "(415) 555-0170", (True, "answered"), "busy"),
        # The customer who never answers: Dial() gives up after 20 s with NOANSWER.
        ("patty", "(415) 555-0171", (True, "answered"), "ring-no-answer"),
        # The agent's own phone is never picked up: Reason 3, no DialEnd, no customer leg.
        ("away", "(415) 555-0123", (False, "no answer"), "ring-no-answer"),
        # The agent's own phone is busy (the rig's agent6): Reason 5, DialEnd BUSY.
        ("frank", "(415) 555-0123", (False, "busy"), "busy"),
    ],
)
async def test_unanswered_click_to_dial_is_logged_with_its_outcome_and_number(
    console: tuple[web.Application, Callable[[str], Awaitable[tuple[AppClient, str]]]],
    username: str,
    typed: str,
    reply: tuple[bool, str],
    outcome: str,
) -> None:
    """The agent's unanswered phone was logged "failed" with no number, and a busy or silent
    customer could not be dialled on the simulator at all."""
    app, agent = console
    client, token = await agent(username)
    dial = await client.post("/api/dial", json={"number": typed}, headers={"X-CSRF-Token": token})
    assert dial.status == 200, await dial.text()
    answer = await dial.json()
    assert (answer["answered"], answer["reason"]) == reply
    call = await logged_outbound_call(app)
    assert (call.outcome, call.caller_number, call.caller_e164) == (
        outcome,
        answer["dialled"],
        normalize(typed).e164,
    )
    assert call.answered_at is None


async def test_an_outbound_call_pops_the_customers_card_on_the_callers_console(
    console: tuple[web.Application, Callable[[str], Awaitable[tuple[AppClient, str]]]],
) -> None:
    """The agent's socket got "answered" and "ended" for a call it had never been shown."""
    app, agent = console
    async with app[keys.DB].begin() as session:
        await customers.create_customer(
            session,
            {"name": "Jane Roe", "salutation": "Ms"},
            [("+14155550100", normalize("+14155550100"), "mobile")],
        )
    alice, token = await agent("alice")
    origin = str(alice.make_url("")).rstrip("/")
    socket = await alice.ws_connect("/ws/agent", headers={"Origin": origin})
    dial = await alice.post(
        "/api/dial", json={"number": "+1 415 555 0100"}, headers={"X-CSRF-Token": token}
    )
    assert dial.status == 200, await dial.text()
    received: list[dict[str, Any]] = []
    while not received or received[-1]["kind"] != "ended":
        received.append(await socket.receive_json(timeout=10))
    await socket.close()
    assert [m["kind"] for m in received] == ["pop", "answered", "ended"]
    pop = received[0]["data"]
    assert (pop["direction"], pop["number"], pop["e164"]) == (
        "outbound",
        "14155550100",
        "+14155550100",
    )
    assert [card["name"] for card in pop["customers"]] == ["Jane Roe"]
    assert {m["data"]["key"] for m in received} == {pop["key"]}
    assert received[-1]["data"]["outcome"] == "answered"


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
