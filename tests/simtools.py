"""A cti application wired to the built-in PBX simulator, for tests that need live calls."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from cti import keys
from cti.app import create_app
from cti.config import Config, DatabaseConfig, PbxConfig, Secret
from cti.db import migrate, users
from cti.db.engine import create_engine, sessionmaker
from cti.sim.config import SimulatorConfig
from cti.sim.simulator import SimulatorHandle, run_simulator

PASSWORD = "long enough password"
Person = tuple[str, str, Sequence[str]]  # username, role, devices


async def simulated(
    tmp_path: Path, people: Sequence[Person], time_scale: float = 0.05, **sim: Any
) -> tuple[web.Application, SimulatorHandle]:
    """The simulator running (`sim` overrides its config), the users created, and an app (not
    yet started) pointed at it."""
    simulator = await run_simulator(SimulatorConfig(time_scale=time_scale, seed=3, **sim))
    database = DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'sim.db'}")
    engine = create_engine(database)
    await migrate.upgrade(engine)
    async with sessionmaker(engine).begin() as session:
        for username, role, devices in people:
            await users.create_user(
                session,
                username=username,
                display_name=username.title(),
                role=role,
                password=PASSWORD,
                devices=list(devices),
            )
    await engine.dispose()
    pbx = PbxConfig(
        name="sim", port=simulator.port, secret=Secret("ctisecret"), outbound_context="outbound"
    )
    return create_app(Config(database=database, pbx=[pbx])), simulator


async def ready(app: web.Application) -> None:
    await app[keys.FEEDS]["sim"].wait_ready(5)
