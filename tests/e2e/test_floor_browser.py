"""The supervisors' live floor in headless Chromium, fed by the built-in PBX simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from playwright.async_api import Page, expect

from cti import keys
from cti.app import create_app
from cti.config import Config, DatabaseConfig, PbxConfig, Secret
from cti.db import migrate, users
from cti.db.engine import create_engine, sessionmaker
from cti.sim.config import SimulatorConfig
from cti.sim.simulator import SimulatorHandle, run_simulator
from tests.e2e.test_login_browser import sign_in

pytestmark = pytest.mark.browser
PASSWORD = "super-pass-12"


@pytest.fixture
async def floor(tmp_path: Path) -> AsyncIterator[tuple[str, SimulatorHandle]]:
    simulator = await run_simulator(SimulatorConfig(time_scale=0.2, seed=4))
    database = DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'floor.db'}")
    engine = create_engine(database)
    await migrate.upgrade(engine)
    async with sessionmaker(engine).begin() as session:
        await users.create_user(
            session, username="sam", display_name="Sam", role="supervisor", password=PASSWORD
        )
    await engine.dispose()
    pbx = PbxConfig(name="sim", port=simulator.port, secret=Secret("ctisecret"))
    app = create_app(Config(database=database, pbx=[pbx]))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    await app[keys.FEEDS]["sim"].wait_ready(5)
    yield str(server.make_url("")).rstrip("/"), simulator
    await server.close()
    await simulator.stop()


async def test_a_waiting_caller_appears_then_leaves_and_counts_as_abandoned(
    page: Page, floor: tuple[str, SimulatorHandle]
) -> None:
    url, simulator = floor
    await sign_in(page, url, "sam", PASSWORD)
    await page.goto(f"{url}/floor")
    await expect(page.get_by_test_id("push-state")).to_have_attribute("data-state", "live")
    support = page.locator("#queues tr[data-queue=support]")
    await expect(support).to_have_attribute("data-waiting", "0")
    # The scenario pauses both support agents, so the caller waits 8 s and hangs up (a 4 s
    # wait would be a short abandon, left out of the count).
    call = asyncio.create_task(simulator.run_scenario("abandon", hold=8))
    await expect(support).to_have_attribute("data-waiting", "1", timeout=10_000)
    await expect(page.locator("#agents tr[data-agent=Alice]")).to_have_attribute(
        "data-state", "paused"
    )
    await expect(support).to_have_attribute("data-waiting", "0", timeout=10_000)
    kpi = page.locator("#kpis tr[data-queue=support]")
    await expect(kpi.locator("td").nth(1)).to_have_text("1")  # offered
    await expect(kpi.locator("td").nth(3)).to_have_text("1")  # abandoned
    await call


async def test_a_supervisor_pauses_an_agent_from_the_board(
    page: Page, floor: tuple[str, SimulatorHandle]
) -> None:
    url, _ = floor
    await sign_in(page, url, "sam", PASSWORD)
    await page.goto(f"{url}/floor")
    bob = page.locator("#agents tr[data-agent=Bob]")
    await expect(bob).to_have_attribute("data-state", "available")
    await bob.locator("select").first.select_option("training")
    await bob.get_by_test_id("pause").click()
    await expect(bob).to_have_attribute("data-state", "paused")
    await expect(bob).to_contain_text("training")
    await bob.get_by_test_id("unpause").click()
    await expect(bob).to_have_attribute("data-state", "available")
