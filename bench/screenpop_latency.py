"""Screen-pop latency: simulator traffic into `cti serve`, pops on 1,000 agent WebSockets.

The service runs in its own process (`cti serve`), on a database holding N customers with 1.5 N
numbers; the PBX simulator in another (a queue of A agents, R new calls per second); this one
holds one plain AMI observer on the simulator and one WebSocket per agent. A pop's latency is the
time from the observer reading the AgentCalled frame to the pop arriving on the rung agent's socket.
Also measured: the customer lookup alone (exact and by suffix) and the service's peak RSS.
Targets: pop p50 <= 5 ms, p99 <= 25 ms on SQLite; lookup p99 <= 1 ms exact, <= 5 ms by suffix.

Usage: python bench/screenpop_latency.py [--customers N] [--agents A] [--rate R] [--seconds S]
                                         [--lookups L]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import gc
import os
import random
import secrets
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import aiohttp
import asyncpg
from sqlalchemy import insert, select

from cti.ami.frames import FrameSplitter, first, parse_frame
from cti.config import DatabaseConfig
from cti.core.numbers import NumberRules, normalize
from cti.db import migrate
from cti.db.card_lookup import CardLookup
from cti.db.engine import create_engine, sessionmaker
from cti.db.models import PhoneNumber, User, UserDevice
from cti.db.sessions import open_session
from cti.demo_data import write_customers_csv
from cti.importer import import_customers
from cti.passwords import hash_password
from cti.screenpop.service import POP_CARDS
from cti.sim.config import (
    AgentProfile,
    InboundRoute,
    MemberConfig,
    Mix,
    QueueConfig,
    SimulatorConfig,
)
from cti.sim.simulator import SimulatorHandle, run_simulator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procfs import cpu_seconds, peak_rss_mb  # noqa: E402

POSTGRES_DSN = os.environ.get("CTI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serve(toml: Path) -> asyncio.subprocess.Process:
    """`cti serve` in a process of its own, as an operator starts it."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cti",
        "serve",
        "-c",
        str(toml),
        env={**os.environ, "CTI_LOG_LEVEL": "WARNING"},
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


async def prepare(config: DatabaseConfig, workdir: Path, count: int, agents: int) -> dict[int, str]:
    """Customers from CSV, agent users with one device each, and a session per agent."""
    engine = create_engine(config)
    await migrate.upgrade(engine)
    db = sessionmaker(engine)
    csv = workdir / "customers.csv"
    if not csv.exists():
        write_customers_csv(csv, count)
    started = time.perf_counter()
    report = await import_customers(db, csv, region="FR")
    print(
        f"  imported {report.created:,} customers, {report.phones_added:,} numbers "
        f"in {time.perf_counter() - started:.0f} s"
    )
    # Agents share one hash: argon2 for 1,000 distinct passwords would take a minute.
    shared_hash = hash_password("bench-agent-password")
    async with db.begin() as session:
        result = await session.execute(
            insert(User).returning(User.id, sort_by_parameter_order=True),
            [
                {
                    "username": f"a{i:04d}",
                    "display_name": f"Agent {i}",
                    "role": "agent",
                    "password_hash": shared_hash,
                }
                for i in range(agents)
            ],
        )
        ids = list(result.scalars())
        await session.execute(
            insert(UserDevice),
            [
                {"user_id": uid, "pbx": "", "interface": f"Local/b{i:04d}@agents"}
                for i, uid in enumerate(ids)
            ],
        )
    tokens = {uid: await open_session(db, uid, timedelta(hours=2)) for uid in ids}
    async with db.begin() as session:
        supervisor = User(
            username="boss", display_name="Boss", role="supervisor", password_hash=shared_hash
        )
        session.add(supervisor)
    tokens[0] = await open_session(db, supervisor.id, timedelta(hours=2))
    await engine.dispose()
    return tokens


async def lookup_timings(config: DatabaseConfig, samples: int) -> tuple[float, float]:
    """p99 of the exact and the suffix lookup, in ms, on random customers' numbers, the way
    a pop runs them (cards included)."""
    engine = create_engine(config)
    db = sessionmaker(engine)
    async with db() as session:
        numbers = list(await session.scalars(select(PhoneNumber.e164).limit(50_000)))
    lookup = CardLookup(engine, busy_timeout_ms=config.busy_timeout_ms)
    rng = random.Random(3)
    exact: list[float] = []
    suffix: list[float] = []
    for _ in range(samples):
        e164 = rng.choice(numbers)
        started = time.perf_counter()
        assert await lookup.cards(normalize(e164), 8, POP_CARDS, withheld=True)
        exact.append((time.perf_counter() - started) * 1000)
        # A country part that matches nothing, so only the last 8 digits can find the caller.
        other = normalize("+49 30 " + e164[-8:], NumberRules("DE"))
        started = time.perf_counter()
        await lookup.cards(other, 8, POP_CARDS, withheld=True)
        suffix.append((time.perf_counter() - started) * 1000)
    lookup.close()
    await engine.dispose()
    return percentile(exact, 0.99), percentile(suffix, 0.99)


def sim_config(agents: int, rate: float, callers: tuple[str, ...]) -> SimulatorConfig:
    members = tuple(
        MemberConfig(f"Local/b{i:04d}@agents/n", f"Agent {i}", f"Local/b{i:04d}@agents")
        for i in range(agents)
    )
    return SimulatorConfig(
        secret="benchsecret",
        queues=(QueueConfig("bench", "rrmemory", timeout=8, members=members),),
        agents=tuple(
            AgentProfile(f"Local/b{i:04d}@agents", "answer", 0.3, 1.0) for i in range(agents)
        ),
        routes=(InboundRoute("100", "queue", "bench"),),
        traffic_queues=("bench",),
        calls_per_minute=rate * 60,
        mix=Mix(
            answered=1,
            abandoned=0,
            ring_no_answer=0,
            dump=0,
            queue_timeout=0,
            busy=0,
            direct=0,
            outbound=0,
        ),
        talk_seconds=(1.0, 2.0),
        ring_seconds=(0.2, 0.5),
        caller_numbers=callers,
        unknown_share=0.1,
        anonymous_share=0.0,
        cel=False,
        seed=11,
    )


async def simulator_role(args: argparse.Namespace) -> None:
    """Run in a process of its own, so that the simulator's work never delays the measuring
    clients: serve AMI, start traffic on "go", stop it on "stop", exit at end of input."""
    callers = tuple((await asyncio.to_thread(Path(args.callers).read_text, "utf-8")).splitlines())
    config = dataclasses.replace(sim_config(args.agents, args.rate, callers), port=args.sim_port)
    simulator = await run_simulator(config)
    # The load generator stands in for Asterisk, which has no collector pauses.
    gc.collect()
    gc.freeze()
    await steer(simulator)


async def steer(simulator: SimulatorHandle) -> None:
    """Say "ready", then start traffic on "go", stop it on "stop", stop all at end of input."""
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := (await reader.readline()).decode().strip():
        if line == "go":
            simulator.start_traffic()
        elif line == "stop":
            await simulator.stop_traffic()
        print(line, flush=True)
    await simulator.stop()


async def observe(
    port: int, rung: dict[tuple[str, str], float], joined: dict[str, float], ready: set[str]
) -> None:
    """A bare AMI client noting when each AgentCalled and QueueCallerJoin frame arrives."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"Action: Login\r\nUsername: cti\r\nSecret: benchsecret\r\nEvents: agent\r\n\r\n")
    splitter = FrameSplitter()
    while data := await reader.read(65536):
        now = time.perf_counter()
        for raw in splitter.feed(data):
            if b"Message: Authentication accepted" in raw:
                ready.add("observer")
            elif b"Event: AgentCalled" in raw:
                frame = parse_frame(raw)
                rung[(first(frame, "Linkedid"), first(frame, "Interface"))] = now
            elif b"Event: QueueCallerJoin" in raw:
                joined.setdefault(first(parse_frame(raw), "Linkedid"), now)


async def floor_socket(
    http: aiohttp.ClientSession, url: str, token: str, seen: dict[str, float], ready: set[str]
) -> None:
    """A supervisor's live floor: when each call first shows on it."""
    headers = {"Cookie": f"cti_session={token}", "Origin": url}
    async with http.ws_connect(f"{url}/ws/floor", headers=headers, heartbeat=None) as ws:
        ready.add("floor")
        async for message in ws:
            data = message.json()
            if data["kind"] == "call":
                seen.setdefault(data["data"]["key"].split("/", 1)[1], time.perf_counter())


async def agent_socket(
    http: aiohttp.ClientSession,
    url: str,
    token: str,
    pops: dict[tuple[str, str], float],
    ready: set[str],
) -> None:
    headers = {"Cookie": f"cti_session={token}", "Origin": url}
    async with http.ws_connect(f"{url}/ws/agent", headers=headers, heartbeat=None) as ws:
        ready.add(token)
        async for message in ws:
            data = message.json()
            if data["kind"] == "pop":
                call_id = data["data"]["call_id"]
                pops.setdefault((call_id, data["data"]["interface"]), time.perf_counter())


async def until_ready(
    http: aiohttp.ClientSession, url: str, token: str, connected: Callable[[], bool]
) -> None:
    """Until every client is connected and the service is logged in to the simulator."""
    async with asyncio.timeout(60):
        while True:
            if connected():
                headers = {"Cookie": f"cti_session={token}"}
                async with http.get(f"{url}/healthz", headers=headers) as response:
                    health = await response.json()
                if health["components"].get("pbx:sim", {}).get("status") == "ok":
                    return
            await asyncio.sleep(0.05)


async def run(
    label: str, config: DatabaseConfig, workdir: Path, args: argparse.Namespace
) -> dict[str, float]:
    print(f"[{label}]")
    tokens = await prepare(config, workdir, args.customers, args.agents)
    exact_p99, suffix_p99 = await lookup_timings(config, args.lookups)
    engine = create_engine(config)
    async with sessionmaker(engine)() as session:
        rows = await session.execute(select(PhoneNumber.e164).limit(5000))
        callers = tuple(f'"Bench Caller" <{e164}>' for (e164,) in rows)
    await engine.dispose()
    callers_file = workdir / "callers.txt"
    callers_file.write_text("\n".join(callers), encoding="utf-8")
    sim_port = free_port()
    simulator = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--role",
        "simulator",
        "--sim-port",
        str(sim_port),
        "--callers",
        str(callers_file),
        "--agents",
        str(args.agents),
        "--rate",
        str(args.rate),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert simulator.stdin is not None
    assert simulator.stdout is not None
    await simulator.stdout.readline()  # "ready"
    port = free_port()
    toml = workdir / f"{label}.toml"
    schema = f'schema = "{config.schema}"\n' if config.schema else ""
    toml.write_text(
        f'[server]\nport = {port}\n[database]\nurl = "{config.url}"\n{schema}'
        f'[[pbx]]\nname = "sim"\nport = {sim_port}\nsecret = "benchsecret"\n'
        '[numbers]\ndefault_region = "FR"\n'
    )
    service = await serve(toml)
    url = f"http://127.0.0.1:{port}"
    called: dict[tuple[str, str], float] = {}
    popped: dict[tuple[str, str], float] = {}
    joined: dict[str, float] = {}
    shown: dict[str, float] = {}
    tasks: list[asyncio.Task[None]] = []

    def undelivered() -> bool:
        return bool(called.keys() - popped.keys() or joined.keys() - shown.keys())

    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
            for _ in range(200):
                try:
                    async with http.get(f"{url}/login") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientConnectionError:
                    await asyncio.sleep(0.1)
            ready: set[str] = set()
            tasks = [
                asyncio.create_task(agent_socket(http, url, t, popped, ready))
                for uid, t in tokens.items()
                if uid
            ]
            tasks.append(asyncio.create_task(floor_socket(http, url, tokens[0], shown, ready)))
            tasks.append(asyncio.create_task(observe(sim_port, called, joined, ready)))
            await until_ready(http, url, tokens[0], lambda: len(ready) == len(tasks))
            # The measuring clients' own collector pauses would be counted as pop latency.
            gc.collect()
            gc.freeze()
            pids = {"service": service.pid, "simulator": simulator.pid, "clients": os.getpid()}
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            simulator.stdin.write(b"go\n")
            await simulator.stdout.readline()
            await asyncio.sleep(args.seconds)
            simulator.stdin.write(b"stop\n")
            await simulator.stdout.readline()
            # Share of one core each process used while traffic ran: saturation shows here.
            cpu = {
                name: 100 * (cpu_seconds(pid) - cpu_before[name]) / args.seconds
                for name, pid in pids.items()
            }
            # The last rings' pops and calls are still on their way: up to 3 s for them.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(3):
                    while undelivered():  # noqa: ASYNC110 - the sockets' tasks fill the dicts
                        await asyncio.sleep(0.05)
            rss = peak_rss_mb(service.pid)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        service.terminate()
        await asyncio.wait_for(service.wait(), 30)
        simulator.stdin.close()
        await asyncio.wait_for(simulator.wait(), 30)
    latencies = [(popped[k] - t) * 1000 for k, t in called.items() if k in popped]
    board = [(shown[k] - t) * 1000 for k, t in joined.items() if k in shown]
    print(
        f"  {len(called):,} AgentCalled, {len(latencies):,} pops matched "
        f"({len(called) / args.seconds:.0f} rings/s); CPU % of one core: "
        + ", ".join(f"{name} {share:.0f}" for name, share in cpu.items())
    )
    figures = {
        "pops": len(latencies),
        "pop_p50_ms": statistics.median(latencies) if latencies else float("nan"),
        "pop_p99_ms": percentile(latencies, 0.99),
        "pop_max_ms": max(latencies, default=float("nan")),
        "lookup_p99_ms": exact_p99,
        "suffix_p99_ms": suffix_p99,
        "rss_mb": rss,
        "wallboard_p50_ms": statistics.median(board) if board else float("nan"),
        "wallboard_p99_ms": percentile(board, 0.99),
    }
    print("  " + "  ".join(f"{k}={v:.1f}" for k, v in figures.items() if k != "pops"))
    return figures


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        sqlite = await run(
            "sqlite",
            DatabaseConfig(url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}"),
            workdir,
            args,
        )
        schema = f"bench_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(POSTGRES_DSN)
        await conn.execute(f"CREATE SCHEMA {schema}")
        try:
            pg_url = POSTGRES_DSN.replace("postgresql://", "postgresql+asyncpg://", 1)
            pg = await run("postgresql", DatabaseConfig(url=pg_url, schema=schema), workdir, args)
        finally:
            await conn.execute(f"DROP SCHEMA {schema} CASCADE")
            await conn.close()
    line = " ".join(f"{k}={v:.1f}" for k, v in pg.items() if k not in ("pops", "pop_max_ms"))
    print(f"PostgreSQL: {line}")
    print(
        f"RESULT pop_p50_ms={sqlite['pop_p50_ms']:.1f} pop_p99_ms={sqlite['pop_p99_ms']:.1f} "
        f"lookup_p99_ms={sqlite['lookup_p99_ms']:.2f} suffix_p99_ms={sqlite['suffix_p99_ms']:.2f} "
        f"rss_mb={sqlite['rss_mb']:.0f} pops={sqlite['pops']:.0f}"
    )


def parse_options(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (sys.argv if None); bench/reports.py builds its wallboard run here too."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--lookups", type=int, default=2000, help="customer lookups timed alone")
    parser.add_argument("--role", choices=["bench", "simulator"], default="bench")
    parser.add_argument("--sim-port", type=int, default=0)
    parser.add_argument("--callers", default="")
    return parser.parse_args(argv)


if __name__ == "__main__":
    options = parse_options()
    asyncio.run(simulator_role(options) if options.role == "simulator" else main(options))
