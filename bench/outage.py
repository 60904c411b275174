"""Outage truth: cti's call log next to the PBX's own record, across a network cut and a kill -9.

The simulated PBX runs in a process of its own with live traffic and writes Asterisk's queue_log;
`cti serve` runs in another and reaches it through a fault proxy run here. Mid-traffic the proxy
cuts the network (the PBX and its calls go on); later the PBX process is killed with SIGKILL and
started again on the same port. Then every call whose life crossed an outage is printed: what cti
recorded beside the truth. For the cut, the truth is the queue log; for the crash, a call alive at
the kill ended at that instant (answered if the log shows its CONNECT, else cut off).

An end is right within 1.2 s of the log's (which counts whole seconds, and is written just before
the Hangups that end the call for cti); a crash end within 0.5 s of the kill.
Usage: python bench/outage.py [--rate CALLS_PER_MINUTE] [--seconds S] [--cut S] [--down S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from cti.config import DatabaseConfig
from cti.db import migrate
from cti.db.engine import create_engine
from cti.sim.config import Mix, SimulatorConfig
from cti.sim.simulator import run_simulator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenpop_latency import free_port, serve, steer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.faultproxy import FaultProxy  # noqa: E402

TOKEN = "bench-probe-token"
FINAL = {
    "COMPLETECALLER": "answered",
    "COMPLETEAGENT": "answered",
    "TRANSFER": "answered",
    "ABANDON": "abandoned",
    "EXITWITHKEY": "abandoned",
    "EXITWITHTIMEOUT": "queue-timeout",
    "EXITEMPTY": "no-agent",
}


def sim_config(
    port: int, queue_log: str, rate: float, uptime: float, longest: float
) -> SimulatorConfig:
    return SimulatorConfig(
        port=port,
        secret="benchsecret",
        traffic_queues=("support", "sales"),
        calls_per_minute=rate,
        mix=Mix(
            answered=70,
            abandoned=15,
            ring_no_answer=0,
            dump=0,
            queue_timeout=15,
            busy=0,
            direct=0,
            outbound=0,
        ),
        talk_seconds=(longest / 4, longest),
        ring_seconds=(0.5, 2.0),
        patience_seconds=(longest / 4, longest + 2),
        # Distinct callers: a call is found again by its queue, number and time of entry.
        caller_numbers=tuple(f"+3314{n:07d}" for n in range(20_000)),
        unknown_share=0.0,
        anonymous_share=0.0,
        queue_log=queue_log,
        uptime=uptime,
        seed=int(uptime) % 7919,
    )


async def simulator_role(args: argparse.Namespace) -> None:
    """The PBX, until killed: traffic from the start, stopped on "stop" (see steer)."""
    config = sim_config(args.sim_port, args.queue_log, args.rate, args.uptime, args.longest)
    simulator = await run_simulator(config)
    simulator.start_traffic()
    await steer(simulator)


async def start_simulator(
    args: argparse.Namespace, port: int, log: Path, uptime: float
) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--role=simulator",
        f"--sim-port={port}",
        f"--queue-log={log}",
        f"--rate={args.rate}",
        f"--uptime={uptime}",
        f"--longest={args.longest}",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    await process.stdout.readline()  # "ready"
    return process


@dataclass(slots=True)
class Truth:
    """One queue call as the PBX's log tells it."""

    queue: str
    number: str
    entered: float
    connected: float | None = None
    ended: float | None = None
    outcome: str = ""
    agent: str = ""


def read_truth(log: Path) -> list[Truth]:
    calls: dict[str, Truth] = {}
    for line in log.read_text(encoding="utf-8").splitlines():
        at, callid, queue, agent, event, *data = line.split("|")
        if event == "ENTERQUEUE":
            calls[callid] = Truth(queue, data[1], float(at))
        elif callid in calls and event == "CONNECT":
            calls[callid].connected, calls[callid].agent = float(at), agent
        elif callid in calls and event in FINAL and calls[callid].ended is None:
            calls[callid].ended, calls[callid].outcome = float(at), FINAL[event]
    return list(calls.values())


@dataclass(slots=True)
class Row:
    outcome: str
    enqueued: float
    answered: float | None
    ended: float | None
    source: str
    agent: str


def read_rows(database: Path) -> dict[tuple[str, str], list[Row]]:
    def instant(text: str | None) -> float | None:
        return (
            None if text is None else datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()
        )

    rows: dict[tuple[str, str], list[Row]] = {}
    with contextlib.closing(sqlite3.connect(database)) as conn:
        for queue, number, enqueued, answered, ended, outcome, source, agent in conn.execute(
            "SELECT queue, caller_number, enqueued_at, answered_at, ended_at, outcome, "
            "end_source, agent_name FROM calls WHERE queue != ''"
        ):
            entered = instant(enqueued) or 0.0
            row = Row(outcome, entered, instant(answered), instant(ended), source, agent)
            rows.setdefault((queue, number), []).append(row)
    return rows


@dataclass(slots=True)
class Tally:
    calls: int = 0
    found: int = 0
    right: int = 0
    worst_end: float = 0.0
    lines: list[str] = field(default_factory=list)


def judge(
    tally: Tally,
    truth: Truth,
    rows: list[Row],
    outcome: str,
    ended: float,
    origin: float,
    slack: float,
) -> None:
    def t(value: float | None) -> str:
        return "-" if value is None else f"{value - origin:7.2f}"

    tally.calls += 1
    row = rows[0] if rows else None
    mark = "missing"
    if row is not None:
        tally.found += 1
        error = abs((row.ended or 0.0) - ended)
        tally.worst_end = max(tally.worst_end, error)
        answer_error = abs((row.answered or 0.0) - (truth.connected or 0.0))
        right = row.outcome == outcome and error <= slack and answer_error <= 1.0
        tally.right += right
        mark = "ok" if right else "WRONG"
    tally.lines.append(
        f"  {truth.queue:8} {truth.number:13} truth {outcome:13} in {t(truth.entered)} "
        f"ans {t(truth.connected)} end {t(ended)} | cti "
        + (
            f"{row.outcome:13} in {t(row.enqueued)} ans {t(row.answered)} end {t(row.ended)} "
            f"{row.source or 'live':9}"
            if row
            else "-"
        )
        + f" {mark}"
    )


async def drained(database: Path) -> None:
    """Until every call in the log has ended (a minute at most)."""

    def open_calls() -> int:
        with contextlib.closing(sqlite3.connect(database)) as conn:
            (count,) = conn.execute("SELECT count(*) FROM calls WHERE ended_at IS NULL").fetchone()
        return int(count)

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            await asyncio.sleep(1.0)  # the calls placed just before the stop are in
            while True:
                if not await asyncio.to_thread(open_calls):
                    return
                await asyncio.sleep(0.5)


async def wait_up(url: str) -> None:
    async with aiohttp.ClientSession() as http, asyncio.timeout(60):
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                headers = {"Authorization": f"Bearer {TOKEN}"}
                async with http.get(f"{url}/healthz", headers=headers) as response:
                    health = await response.json()
                    if health["components"].get("pbx:sim", {}).get("status") == "ok":
                        return
            await asyncio.sleep(0.1)


async def main(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="cti-outage-"))
    database, log = workdir / "cti.db", workdir / "queue_log"
    engine = create_engine(DatabaseConfig(url=f"sqlite+aiosqlite:///{database}"))
    await migrate.upgrade(engine)
    await engine.dispose()
    sim_port = free_port()
    proxy = FaultProxy(sim_port)
    await proxy.start()
    # Up for a day when the run starts; a restart shows as a fresh uptime.
    simulator = await start_simulator(args, sim_port, log, 86400.0)
    port = free_port()
    toml = workdir / "cti.toml"
    toml.write_text(
        f'[server]\nport = {port}\nmetrics_token = "{TOKEN}"\n'
        f'[database]\nurl = "sqlite+aiosqlite:///{database}"\n'
        f'[[pbx]]\nname = "sim"\nport = {proxy.port}\nsecret = "benchsecret"\n'
        f'ping_interval = 2.0\nping_timeout = 1.0\nreconnect_max = 1.0\nqueue_log_file = "{log}"\n'
    )
    service = await serve(toml)
    origin = time.time()
    try:
        await wait_up(f"http://127.0.0.1:{port}")
        third = args.seconds / 3
        await asyncio.sleep(third)
        cut = (time.time(), time.time() + args.cut)
        await proxy.cut(args.cut)
        await asyncio.sleep(third)
        simulator.kill()  # kill -9: no goodbye, calls vanish mid-flight
        killed = time.time()
        await simulator.wait()
        await asyncio.sleep(args.down)
        simulator = await start_simulator(args, sim_port, log, 0.0)
        await asyncio.sleep(third)
        assert simulator.stdin is not None
        simulator.stdin.write(b"stop\n")
        await drained(database)
    finally:
        service.send_signal(signal.SIGTERM)
        await service.wait()
        simulator.kill()
        await simulator.wait()
        await proxy.stop()
    truths = read_truth(log)
    rows = read_rows(database)
    open_calls = sum(1 for found in rows.values() for row in found if row.ended is None)
    cut_tally, crash_tally = Tally(), Tally()
    duplicates = 0
    for truth in truths:
        # The log counts whole seconds, and a caller found waiting after an outage is dated
        # by its wait, in whole seconds too.
        found = [
            row
            for row in rows.get((truth.queue, truth.number), [])
            if abs(row.enqueued - truth.entered) < 2
        ]
        duplicates += len(found) > 1
        if truth.entered < killed and (truth.ended is None or truth.ended > killed):
            outcome = "answered" if truth.connected is not None else "pbx-restart"
            judge(crash_tally, truth, found, outcome, killed, origin, 0.5)
        elif truth.ended is not None and truth.entered < cut[1] and truth.ended > cut[0]:
            judge(cut_tally, truth, found, truth.outcome, truth.ended, origin, 1.2)
    print(f"network cut {cut[0] - origin:.2f}-{cut[1] - origin:.2f} s ({args.cut:g} s):")
    print("\n".join(cut_tally.lines))
    print(f"kill -9 at {killed - origin:.2f} s, back {args.down:g} s later:")
    print("\n".join(crash_tally.lines))
    print(
        f"RESULT cut_calls={cut_tally.calls} cut_right={cut_tally.right} "
        f"cut_worst_end_s={cut_tally.worst_end:.2f} crash_calls={crash_tally.calls} "
        f"crash_right={crash_tally.right} crash_worst_end_s={crash_tally.worst_end:.2f} "
        f"missing={cut_tally.calls - cut_tally.found + crash_tally.calls - crash_tally.found} "
        f"duplicates={duplicates} open={open_calls}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=40.0, help="new calls per minute")
    parser.add_argument("--seconds", type=float, default=45.0, help="traffic before it stops")
    parser.add_argument("--cut", type=float, default=8.0, help="seconds the network is down")
    parser.add_argument("--down", type=float, default=4.0, help="seconds the PBX is dead")
    parser.add_argument("--role", choices=["bench", "simulator"], default="bench")
    parser.add_argument("--sim-port", type=int, default=0)
    parser.add_argument("--queue-log", default="")
    parser.add_argument("--uptime", type=float, default=0.0)
    parser.add_argument("--longest", type=float, default=8.0, help="longest talk, in seconds")
    arguments = parser.parse_args()
    if arguments.role == "simulator":
        asyncio.run(simulator_role(arguments))
    else:
        asyncio.run(main(arguments))
