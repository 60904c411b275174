"""The pop service against real peers: a SQLite file, the push hub, and a fake outside CRM over
HTTP (the outside system is the only thing faked, at its wire protocol)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cti.config import DatabaseConfig, PrivacyConfig, ScreenPopConfig
from cti.core import observations as obs
from cti.core.numbers import NumberRules
from cti.core.pbx_state import PbxState
from cti.db import migrate, users
from cti.db.card_lookup import CardLookup
from cti.db.engine import create_engine, sessionmaker
from cti.directory import Directory
from cti.health import HealthRegistry
from cti.screenpop.external import ExternalSource
from cti.screenpop.service import ScreenPop, channel_of
from cti.webapp.push import PushHub
from tests.core.test_model_from_traces import run

AT = datetime(2026, 11, 29, 10, tzinfo=UTC)


@dataclass
class Rig:
    pops: ScreenPop
    hub: PushHub
    health: HealthRegistry
    user_ids: dict[str, int]

    def received(self, username: str) -> list[dict[str, Any]]:
        return self.hub.backlog(channel_of(self.user_ids[username]), 0)

    async def feed(self, events: list[Any]) -> None:
        for event in events:
            await self.pops.handle(event)
        await self.pops.settle(timeout=5, late=False)


class Crm:
    """A stand-in for another company's CRM: GET /lookup?phone=... answering JSON."""

    def __init__(self) -> None:
        self.delay = 0.0
        self.status = 200
        self.body: Any = {"name": "Outside Person", "id": "X-9", "link": "https://crm.example/X-9"}
        self.requests = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        await asyncio.sleep(self.delay)
        if isinstance(self.body, str):
            return web.Response(status=self.status, text=self.body)
        return web.json_response(self.body, status=self.status)


@pytest.fixture
async def crm(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> tuple[Crm, str]:
    fake = Crm()
    app = web.Application()
    app.router.add_get("/lookup", fake.handle)
    server = await aiohttp_server(app)
    return fake, str(server.make_url("/lookup")) + "?phone={e164}"


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[Rig]]]:
    engine = create_engine(DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'pop.db'}"))
    await migrate.upgrade(engine)
    db = sessionmaker(engine)
    ids: dict[str, int] = {}
    async with db.begin() as session:
        for username, device in (
            ("frank", "Local/agent6@agents"),
            ("carol", "Local/agent3@agents"),
            ("zoe", "PJSIP/1001"),
        ):
            user = await users.create_user(
                session,
                username=username,
                display_name=username,
                role="agent",
                password="long enough password",
                devices=[device],
            )
            ids[username] = user.id
    directory = Directory()
    await directory.load(db)
    cards = CardLookup(engine, busy_timeout_ms=5000)
    async with aiohttp.ClientSession() as http:

        async def make(budget_ms: int = 200, external_url: str = "") -> Rig:
            health = HealthRegistry()
            hub = PushHub()
            external = (
                ExternalSource(http, external_url, timeout=1.0, cache_seconds=60, health=health)
                if external_url
                else None
            )
            pops = ScreenPop(
                cards=cards,
                hub=hub,
                directory=directory,
                devices_of=lambda pbx, interface: (interface, interface.removesuffix("/n")),
                rules={},
                default_rules=NumberRules("US"),
                config=ScreenPopConfig(lookup_budget_ms=budget_ms),
                privacy=PrivacyConfig(),
                suffix_digits=8,
                health=health,
                external=external,
            )
            return Rig(pops, hub, health, ids)

        yield make
        cards.close()
        await engine.dispose()


def direct_call() -> list[Any]:
    """A trunk call dialled straight to Zoe's phone, answered: no queue involved."""
    state = PbxState("p", {}, devices=["PJSIP/1001"])
    trunk = obs.ChannelInfo(
        "100.1",
        "100.1",
        "PJSIP/trunk-00000001",
        "PJSIP/trunk",
        4,
        "+14155550123",
        "<b>Bold</b> Caller",
    )
    phone = obs.ChannelInfo("100.2", "100.1", "PJSIP/1001-00000002", "PJSIP/1001", 5)
    events: list[Any] = []
    for observation in (
        obs.ChannelSeen("p", AT, trunk),
        obs.DialStarted("p", AT, "100.1", phone, "PJSIP/1001"),
        obs.DialEnded("p", AT, "100.1", phone, "ANSWER"),
        obs.ChannelGone("p", AT, phone, 16, "Normal Clearing"),
        obs.ChannelGone("p", AT, trunk, 16, "Normal Clearing"),
    ):
        events += state.apply(observation)
    return events


async def test_a_direct_dial_pops_the_owner_of_the_phone(
    make_rig: Callable[..., Awaitable[Rig]],
) -> None:
    rig = await make_rig()
    await rig.feed(direct_call())
    assert [m["kind"] for m in rig.received("zoe")] == ["pop", "answered", "ended"]
    pop = rig.received("zoe")[0]["data"]
    assert (pop["name"], pop["e164"], pop["queue"]) == ("<b>Bold</b> Caller", "+14155550123", "")
    assert rig.received("frank") == []


async def test_ring_no_answer_pops_and_withdraws_each_attempt(
    make_rig: Callable[..., Awaitable[Rig]],
) -> None:
    rig = await make_rig()
    await rig.feed(run("rna")[1])
    for name, result in (("frank", "busy"), ("carol", "no-answer")):
        kinds = [m["kind"] for m in rig.received(name)]
        assert kinds.count("pop") >= 2
        assert kinds.count("pop") == kinds.count("withdraw")
        results = {m["data"]["result"] for m in rig.received(name) if m["kind"] == "withdraw"}
        assert results == {result}


async def test_unmapped_interfaces_are_reported_once(
    make_rig: Callable[..., Awaitable[Rig]],
) -> None:
    rig = await make_rig()
    await rig.feed(run("answered")[1])
    notes = rig.health.notes("screenpop")
    assert notes == ["rig: Local/agent1@agents/n rings no cti user (add it to a user's devices)"]


async def test_a_slow_outside_source_never_holds_the_pop_back(
    make_rig: Callable[..., Awaitable[Rig]], crm: tuple[Crm, str]
) -> None:
    fake, url = crm
    fake.delay = 0.3
    rig = await make_rig(budget_ms=50, external_url=url)
    started = asyncio.get_running_loop().time()
    await rig.feed(direct_call()[:1])
    assert asyncio.get_running_loop().time() - started < 0.25
    (first,) = rig.received("zoe")
    assert (first["kind"], first["data"]["complete"], first["data"]["external"]) == (
        "pop",
        False,
        None,
    )
    await rig.pops.settle(timeout=5)
    update = rig.received("zoe")[-1]
    assert update["kind"] == "pop-update"
    assert update["data"]["external"] == {
        "name": "Outside Person",
        "id": "X-9",
        "link": "https://crm.example/X-9",
    }


@pytest.mark.parametrize(
    ("status", "body", "delay"),
    [(500, {"error": "down"}, 0.0), (200, "not json", 0.0), (200, ["a list"], 0.0), (200, {}, 2.0)],
)
async def test_outside_source_failures_never_break_a_pop(
    make_rig: Callable[..., Awaitable[Rig]],
    crm: tuple[Crm, str],
    status: int,
    body: Any,
    delay: float,
) -> None:
    fake, url = crm
    fake.status, fake.body, fake.delay = status, body, delay
    rig = await make_rig(budget_ms=1500, external_url=url)
    await rig.feed(direct_call()[:1])
    await rig.pops.settle(timeout=5)
    pops = [m for m in rig.received("zoe") if m["kind"] in ("pop", "pop-update")]
    assert pops[-1]["data"]["external"] is None
    assert pops[-1]["data"]["customers"] == []
