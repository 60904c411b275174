"""The reports page over HTTP: chart, table, breakdowns, CSV, and clear refusals."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

import pytest

from cti import keys
from cti.db.models import AgentPeriod, Call
from tests.clocks import Clock, just_after_midnight
from tests.webapp.test_call_log_pages import either_side_of_midnight
from tests.webtools import AppClient, login, set_timezone


@pytest.fixture
async def supervisor(
    client: AppClient, client_factory: Callable[..., Awaitable[AppClient]], clock: Clock
) -> AppClient:
    async with client.app[keys.DB].begin() as session:
        for index, outcome in enumerate(["answered", "answered", "abandoned"]):
            at = clock.now - timedelta(minutes=index)
            session.add(
                Call(
                    pbx="p",
                    uniqueid=f"x{index}",
                    direction="inbound",
                    queue="<b>support</b>",
                    started_at=at,
                    enqueued_at=at,
                    ended_at=at,
                    outcome=outcome,
                    wait_seconds=8.0 * (index + 1),
                    talk_seconds=60.0,
                    hangup_cause=16,
                )
            )
    other = await client_factory()
    await login(other, "supervisor")
    return other


async def test_the_report_shows_a_chart_a_table_and_breakdowns(supervisor: AppClient) -> None:
    page = await supervisor.get("/reports", params={"period": "day"})
    assert page.status == 200
    html = await page.text()
    assert "<svg" in html
    assert "&lt;b&gt;support&lt;/b&gt;" in html, "queue names are escaped, in the chart too"
    assert "<b>support</b>" not in html
    assert 'data-testid="breakdown-outcome"' in html


async def test_the_csv_matches_the_table(supervisor: AppClient) -> None:
    response = await supervisor.get("/reports.csv", params={"period": "day"})
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["key"], r["offered"], r["answered"], r["abandoned"]) for r in rows] == [
        ("<b>support</b>", "3", "2", "1")
    ]
    assert rows[0]["service_level"] == "0.6667"
    empty = await supervisor.get("/reports.csv", params={"from": "2001-01-01", "to": "2001-01-02"})
    assert (await empty.text()).splitlines() == [(await response.text()).splitlines()[0]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "decade"}, "'period' must be one of hour, day, week, month"),
        ({"group": "team"}, "'group' must be one of queue, agent"),
        ({"from": "2026-13-01"}, "'from' must be a date"),
        ({"period": "hour", "from": "2026-01-01", "to": "2026-03-01"}, "at most 31 days"),
        ({"from": "2026-03-01", "to": "2026-01-01"}, "'to' is before 'from'"),
    ],
)
async def test_bad_parameters_get_a_clear_400(
    supervisor: AppClient, params: dict[str, str], message: str
) -> None:
    response = await supervisor.get(
        "/reports", params=params, headers={"Accept": "application/json"}
    )
    assert response.status == 400
    assert message in (await response.json())["message"]


async def test_agents_have_no_reports(client: AppClient) -> None:
    await login(client, "agent")
    assert (await client.get("/reports")).status == 403


async def test_the_home_page_shows_todays_tiles(supervisor: AppClient) -> None:
    html = await (await supervisor.get("/")).text()
    assert 'data-label="Calls offered today"' in html
    assert 'data-label="My calls today"' in html


async def test_agents_see_their_own_tile_only(client: AppClient) -> None:
    await login(client, "agent")
    html = await (await client.get("/")).text()
    assert 'data-label="My calls today"' in html
    assert 'data-label="Calls offered today"' not in html


async def test_the_agent_report_has_the_time_accounting(
    supervisor: AppClient, clock: Clock
) -> None:
    async with supervisor.app[keys.DB].begin() as session:
        session.add(
            AgentPeriod(
                pbx="p",
                interface="PJSIP/1001",
                agent_name="Alice",
                state="paused",
                paused_reason="lunch",
                started_at=clock.now - timedelta(minutes=30),
                ended_at=clock.now,
            )
        )
    html = await (await supervisor.get("/reports", params={"group": "agent"})).text()
    assert 'data-testid="agent-time"' in html
    assert "lunch: 30.0 min" in html


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
async def test_just_after_midnight_on_the_first_the_month_so_far_is_the_new_day(
    client: AppClient, clock: Clock, zone: str
) -> None:
    """The report took "today" from the machine's clock: a minute into a month, the calls placed
    minutes earlier were last month's and the tests that expected them failed."""
    clock.now = just_after_midnight(zone)
    await either_side_of_midnight(client, clock.now)
    await set_timezone(client, await login(client, "supervisor"), zone)
    response = await client.get("/reports.csv")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert [(r["key"], r["offered"]) for r in rows] == [("support", "1")]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
async def test_just_after_midnight_my_calls_today_are_the_new_days(
    client: AppClient, clock: Clock, zone: str
) -> None:
    """The tile counted from the machine's midnight, not the viewer's by the service's clock."""
    clock.now = just_after_midnight(zone)
    await either_side_of_midnight(client, clock.now)
    await set_timezone(client, await login(client, "agent"), zone)
    html = await (await client.get("/")).text()
    assert "December 1, 2026" in html, "the home page tells the time by the service's clock"
    mine = re.search(r'data-label="My calls today">\s*<span class="value">(\d+)<', html)
    assert mine is not None
    assert mine.group(1) == "1"
