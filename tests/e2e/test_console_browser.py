"""The agent console in headless Chromium, with calls from the built-in PBX simulator."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from cti.app import create_app
from cti.config import Config, DatabaseConfig, PbxConfig, Secret
from cti.core.numbers import normalize
from cti.db import customers, migrate, users
from cti.db.engine import create_engine, sessionmaker
from cti.db.models import Call
from cti.sim.config import SimulatorConfig
from cti.sim.simulator import SimulatorHandle, run_simulator
from tests.e2e.test_login_browser import sign_in

pytestmark = pytest.mark.browser
PASSWORD = "alice-pass-12"


@dataclass
class Floor:
    url: str
    simulator: SimulatorHandle

    def call(self, caller: str) -> asyncio.Task[list[str]]:
        return asyncio.create_task(self.simulator.run_scenario("answered", caller=caller))


async def seed(database: DatabaseConfig) -> None:
    engine = create_engine(database)
    await migrate.upgrade(engine)
    async with sessionmaker(engine).begin() as session:
        await users.create_user(
            session,
            username="alice",
            display_name="Alice",
            role="agent",
            password=PASSWORD,
            # support rings Alice and Bob in turn (rrmemory): both phones are on this desk.
            devices=["Local/agent1@agents", "Local/agent2@agents"],
        )
        jane = await customers.create_customer(
            session,
            {
                "name": "Jane Roe",
                "salutation": "Ms",
                "segment": "gold",
                "vip": True,
                "notes": "Prefers mornings",
                "preferences": {"table": "by the window"},
            },
            [("+14155550100", normalize("+14155550100"), "mobile")],
        )
        session.add(
            Call(
                pbx="sim",
                uniqueid="earlier.1",
                direction="inbound",
                customer_id=jane,
                queue="support",
                agent_name="Bob",
                outcome="answered",
                disposition="sale",
                notes="ordered the blue one",
                started_at=datetime(2026, 11, 20, 9, tzinfo=UTC),
            )
        )
    await engine.dispose()


@pytest.fixture
async def floor(tmp_path: Path) -> AsyncIterator[Floor]:
    simulator = await run_simulator(SimulatorConfig(time_scale=0.25, seed=7))
    database = DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'console.db'}")
    await seed(database)
    pbx = PbxConfig(
        name="sim", port=simulator.port, secret=Secret("ctisecret"), outbound_context="outbound"
    )
    server = TestServer(create_app(Config(database=database, pbx=[pbx])), host="127.0.0.1")
    await server.start_server()
    yield Floor(str(server.make_url("")).rstrip("/"), simulator)
    await server.close()
    await simulator.stop()


async def open_console(page: Page, floor: Floor) -> None:
    await sign_in(page, floor.url, "alice", PASSWORD)
    await page.goto(f"{floor.url}/console")
    await expect(page.get_by_test_id("push-state")).to_have_attribute("data-state", "live")


async def test_a_known_customer_pops_with_name_and_last_call(page: Page, floor: Floor) -> None:
    await open_console(page, floor)
    call = floor.call('"Jane Roe" <+14155550100>')
    card = page.get_by_test_id("customer-card")
    await expect(card.get_by_test_id("customer-name")).to_have_text("Ms Jane Roe", timeout=10_000)
    await expect(card).to_contain_text("Prefers mornings")
    await expect(card.get_by_test_id("last-calls")).to_contain_text("ordered the blue one")
    await expect(card.get_by_test_id("card-sms")).to_have_attribute("href", re.compile(r"#sms$"))
    await expect(page.get_by_test_id("wrapup")).to_be_visible(timeout=10_000)
    await call


async def test_an_unknown_caller_is_created_from_the_pop_and_known_next_time(
    page: Page, floor: Floor
) -> None:
    await open_console(page, floor)
    first = floor.call('"<img src=x onerror=window.pwned=1>" <+14155550166>')
    pop = page.get_by_test_id("pop")
    await expect(pop.get_by_test_id("pop-caller")).to_have_text(
        "<img src=x onerror=window.pwned=1>", timeout=10_000
    )
    assert await page.evaluate("window.pwned") is None
    await pop.get_by_test_id("create-customer").click()
    form = page.get_by_test_id("customer-form")
    await expect(form.locator("input[name=phone]")).to_have_value("+14155550166")
    await form.locator("input[name=name]").fill("Nora New")
    await form.locator("button[type=submit]").click()
    await expect(page.get_by_test_id("customer-name")).to_have_text("Nora New")
    await first
    await page.goto(f"{floor.url}/console")
    await expect(page.get_by_test_id("push-state")).to_have_attribute("data-state", "live")
    second = floor.call('"Unknown" <+1 415 555 0166>')
    await expect(
        page.locator("[data-testid=pop]:not([data-state=ended])")
        .get_by_test_id("customer-name")
        .first
    ).to_have_text("Nora New", timeout=10_000)
    await second


async def dial(page: Page, number: str) -> None:
    form = page.get_by_test_id("dial-form")
    await form.locator("input[name=number]").fill(number)
    await form.locator("button[type=submit]").click()


async def test_calling_a_customer_from_the_console_shows_their_card(
    page: Page, floor: Floor
) -> None:
    """A click-to-dial call never showed on the console: no pop, no card, no wrap-up."""
    await open_console(page, floor)
    await dial(page, "+1 415 555 0100")
    pop = page.get_by_test_id("pop")
    await expect(pop.get_by_test_id("customer-name")).to_have_text("Ms Jane Roe", timeout=10_000)
    await expect(pop.locator("[data-field=number]")).to_have_text("14155550100")
    await expect(pop).to_have_attribute("data-state", "ended", timeout=10_000)
    await expect(pop.get_by_test_id("wrapup")).to_be_visible()
    await expect(page.get_by_test_id("dial-status")).to_have_text("14155550100: answered")


async def test_a_busy_customer_shows_as_a_call_that_ended_busy(page: Page, floor: Floor) -> None:
    await open_console(page, floor)
    await dial(page, "(415) 555-0170")
    pop = page.get_by_test_id("pop")
    await expect(pop.get_by_test_id("pop-caller")).to_have_text("Outgoing call", timeout=10_000)
    await expect(pop).to_have_attribute("data-state", "ended", timeout=10_000)
    await expect(pop.locator("[data-field=state]")).to_have_text("Call ended: busy")


async def test_a_withheld_caller_pops_as_withheld_without_the_card(
    page: Page, floor: Floor
) -> None:
    """The console showed a withheld caller's number and customer card to the agent."""
    await open_console(page, floor)
    call = asyncio.create_task(
        floor.simulator.run_scenario("withheld", caller='"Jane Roe" <+14155550100>')
    )
    pop = page.get_by_test_id("pop")
    await expect(pop.locator("[data-field=number]")).to_have_text("Withheld number", timeout=10_000)
    await expect(pop.get_by_test_id("pop-caller")).to_have_text("Incoming call")
    await expect(pop.get_by_test_id("wrapup")).to_be_visible(timeout=10_000)
    await expect(pop.get_by_test_id("customer-card")).to_have_count(0)
    await expect(pop).not_to_contain_text("Jane")
    await expect(pop).not_to_contain_text("4155550100")
    await call
