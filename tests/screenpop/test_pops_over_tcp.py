"""Pops end to end: a real capture replayed over TCP into the whole app, agents on real sockets.

Each agent of the rig is a user whose device is the member's state interface; a pop must reach
exactly the agents being rung, carry the customer's card, and be withdrawn where the call went
elsewhere.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cti import keys
from cti.app import create_app
from cti.config import Config, DatabaseConfig, PbxConfig, PrivacyConfig, ScreenPopConfig, Secret
from cti.core.events import CallEnded
from cti.core.numbers import normalize
from cti.db import customers, migrate, users
from cti.db.engine import create_engine, sessionmaker
from cti.screenpop.service import channel_of
from tests import amitraces
from tests.ami.replay_server import replaying
from tests.webtools import AppClient, login

AGENTS = {"alice": "agent1", "bob": "agent2", "carol": "agent3", "dave": "agent4", "eve": "agent5"}
PASSWORD = "long enough password"
Messages = dict[str, list[dict[str, Any]]]
Replay = Callable[..., Awaitable[Messages]]


async def seed(database: DatabaseConfig) -> None:
    engine = create_engine(database)
    await migrate.upgrade(engine)
    async with sessionmaker(engine).begin() as session:
        for username, exten in AGENTS.items():
            await users.create_user(
                session,
                username=username,
                display_name=username.title(),
                role="agent",
                password=PASSWORD,
                devices=[f"Local/{exten}@agents"],
            )
        await customers.create_customer(
            session,
            {"name": "Jane Roe", "salutation": "Ms", "segment": "gold", "vip": True},
            [("+14155550100", normalize("+14155550100"), "mobile")],
        )
        await customers.create_customer(
            session,
            {"name": "Hidden Person", "notes": "asked not to be named"},
            [("+14155550115", normalize("+14155550115"), "home")],
        )
    await engine.dispose()


@pytest.fixture
async def replay_pops(
    tmp_path: Path,
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
    aiohttp_client: Callable[[TestServer], Awaitable[AppClient]],
) -> AsyncIterator[Replay]:
    """Replays a capture into a fresh app; returns what each agent's socket received."""
    async with AsyncExitStack() as stack:

        async def run(name: str, privacy: PrivacyConfig | None = None) -> Messages:
            replay = await stack.enter_async_context(replaying(name, 512))
            database = DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / f'{name}.db'}")
            await seed(database)
            wrapup, _ = amitraces.rig_queues()
            pbx = PbxConfig(name="rig", port=replay.port, secret=Secret("s"), wrapup_seconds=wrapup)
            urls = {"support": "https://crm.example/c/{customer_id}?phone={e164}"}
            app = create_app(
                Config(
                    database=database,
                    pbx=[pbx],
                    screenpop=ScreenPopConfig(pop_urls=urls),
                    privacy=privacy or PrivacyConfig(),
                )
            )
            all_ended = asyncio.Event()

            async def watch(event: object) -> None:
                if not len(app[keys.FEEDS]["rig"].state.calls):
                    all_ended.set()

            app[keys.BUS].subscribe("test-watch", watch, CallEnded)
            server = await aiohttp_server(app)
            await asyncio.wait_for(all_ended.wait(), 20)
            await app[keys.BUS].drain()
            received: Messages = {}
            for username in AGENTS:
                client = await aiohttp_client(server)
                await login(client, username, PASSWORD)
                origin = str(client.make_url("")).rstrip("/")
                ws = await client.ws_connect("/ws/agent?since=0", headers={"Origin": origin})
                user_id = await _user_id(app, username)
                last = app[keys.PUSH].last_seq(channel_of(user_id))
                messages: list[dict[str, Any]] = []
                while last and (not messages or messages[-1]["seq"] < last):
                    messages.append(await ws.receive_json(timeout=5))
                received[username] = messages
                await ws.close()
            return received

        yield run


async def _user_id(app: web.Application, username: str) -> int:
    people = app[keys.DIRECTORY].people("rig", [f"Local/{AGENTS[username]}@agents"])
    return people[0].user_id


def kinds(messages: list[dict[str, Any]]) -> list[str]:
    return [m["kind"] for m in messages]


async def test_answered_call_pops_alice_only_with_the_customer_card(
    replay_pops: Replay,
) -> None:
    received = await replay_pops("answered")
    assert kinds(received["alice"])[:1] == ["pop"]
    assert "answered" in kinds(received["alice"])
    assert kinds(received["alice"])[-1] == "ended"
    pop = received["alice"][0]["data"]
    assert (pop["number"], pop["name"], pop["queue"], pop["e164"]) == (
        "+14155550100",
        "Jane Roe",
        "support",
        "+14155550100",
    )
    (card,) = pop["customers"]
    assert (card["name"], card["salutation"], card["vip"], card["segment"]) == (
        "Jane Roe",
        "Ms",
        True,
        "gold",
    )
    assert pop["pop_url"] == f"https://crm.example/c/{card['id']}?phone=%2B14155550100"
    assert all(received[name] == [] for name in ("bob", "carol", "dave", "eve"))


async def test_ringall_pops_both_and_withdraws_the_loser(
    replay_pops: Replay,
) -> None:
    received = await replay_pops("ringnoanswer")
    assert kinds(received["dave"])[0] == "pop"
    assert "answered" in kinds(received["dave"])
    assert kinds(received["carol"]) == ["pop", "withdraw"]
    assert received["carol"][1]["data"]["result"] == "answered-elsewhere"
    assert received["carol"][0]["data"]["customers"] == []
    assert all(received[name] == [] for name in ("alice", "bob", "eve"))


async def test_dump_pops_and_withdraws_eve_on_every_retry(
    replay_pops: Replay,
) -> None:
    received = await replay_pops("dump")
    pattern = kinds(received["eve"])
    assert pattern[0] == "pop"
    assert pattern.count("pop") >= 5
    assert pattern.count("withdraw") == pattern.count("pop")
    assert {m["data"]["result"] for m in received["eve"] if m["kind"] == "withdraw"} == {"dumped"}


async def test_a_withheld_caller_pops_for_an_agent_without_number_name_or_card(
    replay_pops: Replay,
) -> None:
    """The pop showed a withheld caller's number, name and customer card to the agent."""
    received = await replay_pops("withheld")
    assert kinds(received["alice"]) == ["pop", "answered", "ended"]
    pop = received["alice"][0]["data"]
    assert (pop["number_kind"], pop["number"], pop["name"], pop["e164"]) == ("withheld", "", "", "")
    assert (pop["customers"], pop["external"], pop["pop_url"]) == ([], None, "")
    text = json.dumps(received["alice"], ensure_ascii=False)
    assert "4155550115" not in text
    assert "Hidden" not in text


async def test_a_role_allowed_to_see_withheld_callers_gets_the_number_and_card(
    replay_pops: Replay,
) -> None:
    received = await replay_pops("withheld", PrivacyConfig(show_withheld_to=["agent"]))
    pop = received["alice"][0]["data"]
    assert (pop["number"], pop["e164"]) == ("+14155550115", "+14155550115")
    assert [card["name"] for card in pop["customers"]] == ["Hidden Person"]
