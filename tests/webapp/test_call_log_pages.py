"""Call log pages over HTTP: filters, who sees what, one call's page, and the CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Table, select

from cti import keys
from cti.calllog.export import csv_record
from cti.db.models import Call, User
from tests.clocks import Clock, just_after_midnight
from tests.webtools import AppClient, login, set_timezone


async def seed(client: AppClient, now: datetime) -> dict[str, int]:
    async with client.app[keys.DB].begin() as session:
        agent = await session.scalar(select(User.id).where(User.username == "agent"))
        rows = [
            Call(
                pbx="p",
                uniqueid="a1",
                direction="inbound",
                caller_number="+14155550100",
                caller_name="Jane Roe",
                caller_e164="+14155550100",
                queue="support",
                agent_user_id=agent,
                agent_name="The agent",
                started_at=now - timedelta(minutes=5),
                attempts=[
                    {
                        "agent": "The agent",
                        "interface": "PJSIP/1001",
                        "rung_at": (now - timedelta(minutes=5)).isoformat(),
                        "ended_at": (now - timedelta(minutes=4)).isoformat(),
                        "result": "answered",
                    }
                ],
                outcome="answered",
                wait_seconds=4.0,
                talk_seconds=60.0,
            ),
            Call(
                pbx="p",
                uniqueid="a2",
                direction="inbound",
                caller_number='=HYPERLINK("x")',
                caller_name="Formula",
                queue="sales",
                started_at=now - timedelta(minutes=3),
                outcome="abandoned",
                wait_seconds=30.0,
            ),
            Call(
                pbx="p",
                uniqueid="a3",
                direction="inbound",
                caller_number="+14155550111",
                queue="support",
                started_at=now - timedelta(days=3),
                outcome="answered",
            ),
        ]
        session.add_all(rows)
        await session.flush()
        return {row.uniqueid: row.id for row in rows}


async def test_supervisor_filters_the_day(
    client: AppClient, client_factory: Callable[..., Awaitable[AppClient]], clock: Clock
) -> None:
    ids = await seed(client, clock.now)
    supervisor = await client_factory()
    await login(supervisor, "supervisor")
    page = await (await supervisor.get("/calls")).text()
    assert f'/calls/{ids["a1"]}"' in page
    assert f'/calls/{ids["a2"]}"' in page
    assert f'/calls/{ids["a3"]}"' not in page, "three days ago is not today"
    only = await (await supervisor.get("/calls", params={"outcome": "abandoned"})).text()
    assert f'/calls/{ids["a2"]}"' in only
    assert f'/calls/{ids["a1"]}"' not in only
    by_number = await (await supervisor.get("/calls", params={"q": "(415) 555-0100"})).text()
    assert f'/calls/{ids["a1"]}"' in by_number
    assert f'/calls/{ids["a2"]}"' not in by_number
    day = (clock.now - timedelta(days=3)).date().isoformat()
    past = await (await supervisor.get("/calls", params={"from": day, "to": day})).text()
    assert f'/calls/{ids["a3"]}"' in past


async def test_an_agent_sees_only_their_own_calls(client: AppClient, clock: Clock) -> None:
    ids = await seed(client, clock.now)
    await login(client, "agent")
    page = await (await client.get("/calls")).text()
    assert f'/calls/{ids["a1"]}"' in page
    assert f'/calls/{ids["a2"]}"' not in page
    assert (await client.get(f"/calls/{ids['a2']}")).status == 404
    detail = await (await client.get(f"/calls/{ids['a1']}")).text()
    assert "Call started" in detail
    assert "Rang The agent" in detail
    assert "Stopped ringing The agent: answered" in detail
    assert "Jane Roe" in detail


async def test_csv_export_is_complete_and_safe_for_spreadsheets(
    client: AppClient, client_factory: Callable[..., Awaitable[AppClient]], clock: Clock
) -> None:
    await seed(client, clock.now)
    supervisor = await client_factory()
    await login(supervisor, "supervisor")
    response = await supervisor.get("/calls.csv")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(await response.text())))
    assert sorted(r["uniqueid"] for r in rows) == ["a1", "a2"]
    formula = next(r for r in rows if r["uniqueid"] == "a2")
    assert formula["caller_number"] == '\'=HYPERLINK("x")'
    empty = await supervisor.get("/calls.csv", params={"from": "2001-01-01", "to": "2001-01-01"})
    assert (await empty.text()).splitlines()[0].startswith("id,pbx,uniqueid")
    assert len((await empty.text()).splitlines()) == 1


async def either_side_of_midnight(client: AppClient, now: datetime) -> tuple[int, int]:
    """Two ended calls answered by the agent, 2.5 minutes and 30 seconds before `now`: the
    day's first minute, as `just_after_midnight` gives it, puts them either side of midnight."""
    async with client.app[keys.DB].begin() as session:
        agent = await session.scalar(select(User.id).where(User.username == "agent"))
        rows = [
            Call(
                pbx="p",
                uniqueid=uniqueid,
                direction="inbound",
                caller_number="+14155550100",
                queue="support",
                agent_user_id=agent,
                started_at=at,
                enqueued_at=at,
                ended_at=at,
                outcome="answered",
                wait_seconds=1.0,
                talk_seconds=60.0,
            )
            for uniqueid, at in (
                ("before", now - timedelta(seconds=150)),
                ("after", now - timedelta(seconds=30)),
            )
        ]
        session.add_all(rows)
        await session.flush()
        return rows[0].id, rows[1].id


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
async def test_just_after_midnight_the_list_shows_the_new_day_only(
    client: AppClient, clock: Clock, zone: str
) -> None:
    """The page took "today" from the machine's clock: in the first minutes of a day, calls
    placed minutes earlier were yesterday's and the tests that expected them failed."""
    clock.now = just_after_midnight(zone)
    before, after = await either_side_of_midnight(client, clock.now)
    await set_timezone(client, await login(client, "supervisor"), zone)
    page = await (await client.get("/calls")).text()
    assert f'/calls/{after}"' in page
    assert f'/calls/{before}"' not in page, "23:58:30 the day before is not today"
    day = (clock.now - timedelta(days=1)).astimezone(ZoneInfo(zone)).date().isoformat()
    yesterday = await (await client.get("/calls", params={"from": day})).text()
    assert f'/calls/{before}"' in yesterday
    assert f'/calls/{after}"' not in yesterday


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from": "yesterday"}, "'from' must be a date"),
        ({"from": "2026-11-10", "to": "2026-11-01"}, "'to' is before 'from'"),
        ({"from": "2024-01-01", "to": "2026-01-01"}, "at most 366 days"),
        ({"outcome": "lost"}, "unknown outcome 'lost'"),
        ({"agent": "bob"}, "'agent' must be a user number"),
    ],
)
async def test_bad_filters_get_a_clear_400(
    client: AppClient, params: dict[str, str], message: str
) -> None:
    await login(client, "agent")
    for path in ("/calls", "/calls.csv"):
        response = await client.get(path, params=params, headers={"Accept": "application/json"})
        assert response.status == 400
        assert message in (await response.json())["message"]


async def test_export_records_are_made_alike_by_both_databases(db: Any) -> None:
    at = datetime(2026, 11, 29, 10, 0, 5, 250000, tzinfo=UTC)
    async with db.begin() as session:
        session.add(
            Call(
                pbx="p",
                uniqueid="x1",
                direction="inbound",
                caller_name='=HYPERLINK("x")',
                caller_number="-1",
                queue="support, 2nd line",
                started_at=at,
                answered_at=None,
                wait_seconds=1.5,
                talk_seconds=61.25,
                outcome="answered",
                hangup_cause=16,
                disposition="",
                notes='Said "call me back",\r\nthen: 王先生',
            )
        )
    table = cast(Table, Call.__table__)
    names = (
        "started_at",
        "answered_at",
        "caller_name",
        "caller_number",
        "queue",
        "wait_seconds",
        "talk_seconds",
        "hangup_cause",
        "customer_id",
        "disposition",
        "notes",
    )
    async with db() as session:
        dialect = session.get_bind().dialect.name
        record = await session.scalar(select(csv_record(table, names, dialect)))
    assert list(csv.reader(io.StringIO(record, newline=""))) == [
        [
            "2026-11-29T10:00:05.250000+00:00",
            "",
            '\'=HYPERLINK("x")',
            "'-1",
            "support, 2nd line",
            "1.5",
            "61.25",
            "16",
            "",
            "",
            'Said "call me back",\r\nthen: 王先生',
        ]
    ]
