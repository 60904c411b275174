"""The service as an operator runs it: `cti serve` in its own process, stopped with SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from cti.config import DatabaseConfig
from cti.db.engine import create_engine, sessionmaker
from cti.db.models import Call
from cti.sim.config import SimulatorConfig
from cti.sim.simulator import run_simulator
from tests.webtools import seed_users


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until_serving(url: str, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            if process.returncode is not None:
                pytest.fail(f"cti serve exited early with {process.returncode}")
            try:
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                pass
            await asyncio.sleep(0.05)
    pytest.fail("cti serve did not start within 10 s")


async def start_serve(
    tmp_path: Path, db: Path, port: int, extra: str = ""
) -> asyncio.subprocess.Process:
    config = tmp_path / "cti.toml"
    config.write_text(
        f'[server]\nport = {port}\n[database]\nurl = "sqlite+aiosqlite:///{db}"\n{extra}'
    )
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cti",
        "serve",
        "-c",
        str(config),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "CTI_LOG_LEVEL": "INFO"},
    )


async def test_sigterm_stops_cleanly_and_flushes_the_database(tmp_path: Path) -> None:
    db = tmp_path / "cti.db"
    await seed_users(DatabaseConfig(url=f"sqlite+aiosqlite:///{db}"))
    port = free_port()
    process = await start_serve(tmp_path, db, port)
    await wait_until_serving(f"http://127.0.0.1:{port}/login", process)
    process.send_signal(signal.SIGTERM)
    output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    log = output.decode()
    assert process.returncode == 0, log
    assert "database closed" in log
    wal = tmp_path / "cti.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0, "WAL not checkpointed at shutdown"


async def test_serve_refuses_an_unmigrated_database_and_says_how_to_fix_it(
    tmp_path: Path,
) -> None:
    process = await start_serve(tmp_path, tmp_path / "empty.db", free_port())
    output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    assert process.returncode == 2
    assert "cti db upgrade" in output.decode()


async def test_sigterm_writes_every_call_the_pbx_reported(tmp_path: Path) -> None:
    simulator = await run_simulator(SimulatorConfig(time_scale=0.02, seed=9))
    db = tmp_path / "cti.db"
    await seed_users(DatabaseConfig(url=f"sqlite+aiosqlite:///{db}"))
    port = free_port()
    pbx = f'[[pbx]]\nname = "sim"\nport = {simulator.port}\nsecret = "ctisecret"\n'
    process = await start_serve(tmp_path, db, port, pbx)
    try:
        await wait_until_serving(f"http://127.0.0.1:{port}/login", process)
        await asyncio.sleep(0.5)  # the service's login and resync
        calls = []
        for _ in range(5):
            calls += await simulator.run_scenario("answered")
        # At once, inside the call log's flush interval: only the shutdown flush can save them.
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        await simulator.stop()
    assert process.returncode == 0, output.decode()
    engine = create_engine(DatabaseConfig(url=f"sqlite+aiosqlite:///{db}"))
    async with sessionmaker(engine)() as session:
        rows = {c.linkedid: c.outcome for c in await session.scalars(select(Call))}
    await engine.dispose()
    assert rows == dict.fromkeys(calls, "answered"), output.decode()
