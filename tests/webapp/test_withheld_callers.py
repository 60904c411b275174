"""A caller who withheld their number, from the simulator through the call log to the pages.

The agent who took the call sees "withheld" in the call log, its page and its export, finds it by
no number or name, and sees no trace of it on the customer's card; a supervisor sees it all. The
call still belongs to its customer, for the reports.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from cti import keys
from cti.core.numbers import normalize
from cti.db import customers
from cti.db.models import Call
from tests.simtools import PASSWORD, ready, simulated
from tests.webtools import AppClient, hidden_field, login

NUMBER = "+14155550115"


@dataclass
class Logged:
    call: Call
    customer_id: int
    user: Callable[[str], Awaitable[AppClient]]

    @property
    def day(self) -> str:
        """The call's own day (the users' time zone is UTC): never today's date at midnight."""
        return self.call.started_at.date().isoformat()


@pytest.fixture
async def logged(
    tmp_path: Path,
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
    aiohttp_client: Callable[[TestServer], Awaitable[AppClient]],
) -> AsyncIterator[Logged]:
    """The simulator's withheld scenario answered by Alice, written to the call log."""
    people = [("alice", "agent", ["Local/agent1@agents"]), ("sam", "supervisor", [])]
    app, simulator = await simulated(tmp_path, people)
    server = await aiohttp_server(app)
    await ready(app)
    async with app[keys.DB].begin() as session:
        customer_id = await customers.create_customer(
            session, {"name": "Hidden Person"}, [(NUMBER, normalize(NUMBER), "home")]
        )
    await simulator.run_scenario("withheld")
    call = None
    for _ in range(200):  # the call log writes on its next tick
        async with app[keys.DB]() as session:
            call = await session.scalar(select(Call).where(Call.ended_at.is_not(None)))
        if call is not None:
            break
        await asyncio.sleep(0.05)
    assert call is not None

    async def user(username: str) -> AppClient:
        client = await aiohttp_client(server)
        await login(client, username, PASSWORD)
        return client

    yield Logged(call, customer_id, user)
    await simulator.stop()


async def page(client: AppClient, path: str) -> str:
    response = await client.get(path)
    assert response.status == 200, path
    return await response.text()


def last_calls(card: str) -> str:
    """The customer page's table of last calls."""
    return card.split('data-testid="last-calls"', 1)[1].split("</table>", 1)[0]


def last_call_found(search: str) -> str:
    """The "Last call" cell of the one customer a search found."""
    (row,) = re.findall(r"<tr>\s*<td>.*?</tr>", search, re.S)
    cells: list[str] = re.findall(r"<td>(.*?)</td>", row, re.S)
    return cells[3]


async def test_the_call_is_marked_withheld_and_keeps_its_customer(logged: Logged) -> None:
    call = logged.call
    assert (call.withheld, call.caller_number, call.customer_id) == (
        True,
        NUMBER,
        logged.customer_id,
    )
    assert (call.agent_name, call.outcome) == ("Alice", "answered")


async def test_the_agent_sees_withheld_in_the_call_log_its_page_and_its_export(
    logged: Logged,
) -> None:
    """The agent's call log showed the withheld caller's number and name, and found them."""
    alice = await logged.user("alice")
    day = f"from={logged.day}&to={logged.day}"
    listing = await page(alice, f"/calls?{day}")
    assert "Withheld number" in listing
    detail = await page(alice, f"/calls/{logged.call.id}")
    assert "Withheld number" in detail
    assert f"/customers/{logged.customer_id}" not in detail
    for text in (listing, detail):
        assert "4155550115" not in text
        assert "Hidden Person" not in text
    for clue in ("4155550115", "Hidden"):
        assert "No call matches." in await page(alice, f"/calls?{day}&q={clue}")
    export = await page(alice, f"/calls.csv?{day}")
    (row,) = csv.DictReader(io.StringIO(export, newline=""))
    assert (row["caller_number"], row["caller_name"], row["caller_e164"], row["customer_id"]) == (
        "withheld",
        "",
        "",
        "",
    )
    assert row["uniqueid"] == logged.call.uniqueid
    token = hidden_field(await page(alice, "/account"), "csrf_token")
    chinese = {"locale": "zh_Hans", "timezone": "UTC", "csrf_token": token}
    assert (await alice.post("/account", data=chinese)).status == 200
    assert "隐藏号码" in await page(alice, f"/calls?{day}")


async def test_the_agent_sees_no_trace_of_it_on_the_customers_card(logged: Logged) -> None:
    alice = await logged.user("alice")
    card = await page(alice, f"/customers/{logged.customer_id}")
    assert "support" not in last_calls(card)
    assert last_call_found(await page(alice, "/customers?q=Hidden")) == ""


async def test_a_supervisor_sees_the_caller_and_the_call_on_the_card(logged: Logged) -> None:
    sam = await logged.user("sam")
    day = f"from={logged.day}&to={logged.day}"
    listing = await page(sam, f"/calls?{day}&q=4155550115")
    assert "Hidden Person" in listing
    assert NUMBER in listing
    assert "number withheld" in listing
    detail = await page(sam, f"/calls/{logged.call.id}")
    assert f"/customers/{logged.customer_id}" in detail
    export = await page(sam, f"/calls.csv?{day}")
    (row,) = csv.DictReader(io.StringIO(export, newline=""))
    # A leading "+" is a formula to a spreadsheet: the export quotes it.
    assert (row["caller_number"], row["customer_id"]) == (f"'{NUMBER}", str(logged.customer_id))
    card = await page(sam, f"/customers/{logged.customer_id}")
    assert "support" in last_calls(card)
    assert last_call_found(await page(sam, "/customers?q=Hidden")) != ""
