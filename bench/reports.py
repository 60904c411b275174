"""Reports, export and wallboard at scale: 2,000,000 calls over 12 months, SQLite and PostgreSQL.

(a) a month's KPI report per queue and per agent, for each of the 12 months: p50 (target 500 ms),
    once the hours are summed as the service sums them in the background (their time is shown);
(b) the call log's CSV export of 1,000,000 rows through the real HTTP handler: rows per second
    (target 50,000) and how much the serving process grew (flat memory is the point);
(c) wallboard latency: from the QueueCallerJoin frame leaving the simulator to the call showing on
    a supervisor's floor socket, at 100 calls/s (target p99 100 ms), with bench/screenpop_latency
    on 20,000 customers and 200 agents for 20 s.

Usage: python bench/reports.py [--calls N] [--months M] [--export-rows N] [--skip-wallboard]
           [--wallboard-customers N] [--wallboard-agents A] [--wallboard-seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import asyncpg
from aiohttp.test_utils import TestServer
from sqlalchemy import insert

from cti.app import create_app
from cti.calllog import rollup
from cti.calllog.reports import day_range, kpi_report
from cti.config import Config, DatabaseConfig
from cti.core.hours import parse_weekly_hours
from cti.core.kpi import KpiSettings
from cti.db import migrate
from cti.db.engine import create_engine, sessionmaker
from cti.db.models import Call, User
from cti.db.sessions import open_session
from cti.passwords import hash_password

sys.path.insert(0, str(Path(__file__).resolve().parent))
import screenpop_latency  # noqa: E402
from procfs import rss_mb  # noqa: E402

POSTGRES_DSN = os.environ.get("CTI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
QUEUES = ("support", "sales", "billing", "vip", "returns")
AGENTS = tuple(f"Agent {i:02d}" for i in range(50))
OUTCOMES = ("answered",) * 8 + ("abandoned", "queue-timeout")
FIRST_DAY = date(2025, 12, 1)
SETTINGS = KpiSettings(20, 5, "answered-and-long-abandons", {q: 15 for q in QUEUES})
UTC_ZONE = ZoneInfo("UTC")


def month_starts(months: int) -> list[date]:
    """The first day of each of `months` months from FIRST_DAY, and of the month after them."""
    starts = [FIRST_DAY]
    for _ in range(months):
        starts.append((starts[-1].replace(day=28) + timedelta(days=4)).replace(day=1))
    return starts


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


async def fill(config: DatabaseConfig, calls: int, end: date) -> float:
    """`calls` calls spread from FIRST_DAY to `end`; returns the seconds it took."""
    engine = create_engine(config)
    await migrate.upgrade(engine)
    rng = random.Random(5)
    span = (midnight(end) - midnight(FIRST_DAY)).total_seconds() / calls
    started = time.perf_counter()
    async with sessionmaker(engine).begin() as session:
        batch: list[dict[str, Any]] = []
        for index in range(calls):
            at = midnight(FIRST_DAY) + timedelta(seconds=index * span)
            outcome = rng.choice(OUTCOMES)
            answered = outcome == "answered"
            wait = rng.uniform(0, 90)
            batch.append(
                {
                    "pbx": "main",
                    "uniqueid": f"{index}",
                    "direction": "inbound",
                    "caller_number": f"+1415{index % 10_000_000:07d}",
                    "queue": rng.choice(QUEUES),
                    "agent_name": rng.choice(AGENTS) if answered else "",
                    "started_at": at,
                    "enqueued_at": at,
                    "answered_at": at + timedelta(seconds=wait) if answered else None,
                    "ended_at": at + timedelta(seconds=wait + 120),
                    "wait_seconds": wait,
                    "talk_seconds": rng.uniform(30, 600) if answered else None,
                    "outcome": outcome,
                    "hangup_cause": 16,
                    "disposition": rng.choice(("", "sale", "resolved")),
                }
            )
            if len(batch) == 20_000:
                await session.execute(insert(Call), batch)
                batch = []
        if batch:
            await session.execute(insert(Call), batch)
    await engine.dispose()
    return time.perf_counter() - started


async def sum_hours(config: DatabaseConfig, end: date) -> float:
    """Sum every hour a day old, as the call log writer does a day at a time while it runs."""
    engine = create_engine(config)
    db = sessionmaker(engine)
    began = time.perf_counter()
    # As the writer would a day after the last call: the hours summed are the data's, not also
    # the empty ones up to whatever date the benchmark runs on.
    now = midnight(end) + rollup.ROLLUP_AGE
    while True:
        async with db.begin() as session:
            if not await rollup.refresh(session, SETTINGS, now, max_hours=24):
                break
    await engine.dispose()
    return time.perf_counter() - began


async def monthly_reports(config: DatabaseConfig, months: list[date]) -> list[float]:
    engine = create_engine(config)
    db = sessionmaker(engine)
    timings = []
    always = parse_weekly_hours({})
    for month, following in itertools.pairwise(months):
        start, end = day_range(month, following - timedelta(days=1), UTC_ZONE)
        for group in ("queue", "agent"):
            began = time.perf_counter()
            async with db() as session:
                rows = await kpi_report(
                    session,
                    start=start,
                    end=end,
                    period="month",
                    group=group,
                    settings=SETTINGS,
                    hours=always,
                    zone=UTC_ZONE,
                )
            timings.append((time.perf_counter() - began) * 1000)
            assert rows, "an empty month: the data did not load"
    await engine.dispose()
    return timings


async def sample_rss(peak: list[float]) -> None:
    """This process's highest resident memory while it runs: its growth from a start, which the
    peak since exec (VmHWM) cannot tell."""
    while True:
        peak[0] = max(peak[0], rss_mb(os.getpid()))
        await asyncio.sleep(0.05)


async def export(
    config: DatabaseConfig, rows: int, total: int, days: int
) -> tuple[float, float, int]:
    """Download the CSV of about the first `rows` of `total` calls spread over `days` through
    the real app; rows/s, RSS growth MB."""
    engine = create_engine(config)
    db = sessionmaker(engine)
    async with db.begin() as session:
        user = User(
            username="boss",
            display_name="Boss",
            role="supervisor",
            password_hash=hash_password("bench-boss-password"),
            timezone="UTC",
        )
        session.add(user)
    token = await open_session(db, user.id, timedelta(hours=1))
    await engine.dispose()
    last = FIRST_DAY + timedelta(days=max(1, int(days * rows / total)) - 1)
    server = TestServer(create_app(Config(database=config)), host="127.0.0.1")
    await server.start_server()
    before = rss_mb(os.getpid())
    peak = [before]
    sampler = asyncio.create_task(sample_rss(peak))
    received = 0
    started = time.perf_counter()
    async with aiohttp.ClientSession(cookies={"cti_session": token}) as http:
        url = str(server.make_url("/calls.csv"))
        async with http.get(
            url, params={"from": FIRST_DAY.isoformat(), "to": last.isoformat()}
        ) as response:
            assert response.status == 200, await response.text()
            async for chunk in response.content.iter_chunked(1 << 16):
                received += chunk.count(b"\n")
    elapsed = time.perf_counter() - started
    sampler.cancel()
    await server.close()
    return (received - 1) / elapsed, peak[0] - before, received - 1


async def run(label: str, config: DatabaseConfig, args: argparse.Namespace) -> dict[str, float]:
    print(f"[{label}]")
    months = month_starts(args.months)
    seconds = await fill(config, args.calls, months[-1])
    print(f"  {args.calls:,} calls over {args.months} months written in {seconds:.0f} s")
    summing = await sum_hours(config, months[-1])
    print(
        f"  hours summed for reports in {summing:.1f} s (the service does this in the background)"
    )
    timings = await monthly_reports(config, months)
    days = (months[-1] - months[0]).days
    rate, growth, exported = await export(config, args.export_rows, args.calls, days)
    figures = {
        "report_p50_ms": statistics.median(timings),
        "report_max_ms": max(timings),
        "export_rows_per_s": rate,
        "export_rss_growth_mb": growth,
    }
    print(f"  exported {exported:,} rows; " + "  ".join(f"{k}={v:.1f}" for k, v in figures.items()))
    return figures


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sqlite = await run(
            "sqlite", DatabaseConfig(url=f"sqlite+aiosqlite:///{workdir / 'r.db'}"), args
        )
        schema = f"bench_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(POSTGRES_DSN)
        await conn.execute(f"CREATE SCHEMA {schema}")
        try:
            pg_url = POSTGRES_DSN.replace("postgresql://", "postgresql+asyncpg://", 1)
            pg = await run("postgresql", DatabaseConfig(url=pg_url, schema=schema), args)
        finally:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
            await conn.close()
        wallboard = float("nan")
        if not args.skip_wallboard:
            # Its own defaults for what is not set here; no customer lookups timed, only the floor.
            board_args = screenpop_latency.parse_options(
                [
                    f"--customers={args.wallboard_customers}",
                    f"--agents={args.wallboard_agents}",
                    f"--seconds={args.wallboard_seconds}",
                    "--lookups=0",
                ]
            )
            print(
                f"[wallboard, SQLite, {board_args.customers:,} customers, "
                f"{board_args.agents} agents, {board_args.rate:g} calls/s]"
            )
            figures = await screenpop_latency.run(
                "wallboard",
                DatabaseConfig(url=f"sqlite+aiosqlite:///{workdir / 'w.db'}"),
                workdir,
                board_args,
            )
            wallboard = figures["wallboard_p99_ms"]
    print(
        f"PostgreSQL: report_p50_ms={pg['report_p50_ms']:.1f} "
        f"export_rows_per_s={pg['export_rows_per_s']:.0f}"
    )
    print(
        f"RESULT report_p50_ms={sqlite['report_p50_ms']:.1f} "
        f"export_rows_per_s={sqlite['export_rows_per_s']:.0f} wallboard_p99_ms={wallboard:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2_000_000)
    parser.add_argument("--months", type=int, default=12, help="months the calls spread over")
    parser.add_argument("--export-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-wallboard", action="store_true")
    parser.add_argument("--wallboard-customers", type=int, default=20_000)
    parser.add_argument("--wallboard-agents", type=int, default=200)
    parser.add_argument("--wallboard-seconds", type=float, default=20.0)
    asyncio.run(main(parser.parse_args()))
