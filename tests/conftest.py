"""Fixtures shared by the whole suite: real databases (a SQLite file and PostgreSQL)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cti.config import DatabaseConfig
from cti.db import migrate
from cti.db.engine import create_engine, sessionmaker

pytest_plugins = ("tests.webtools", "tests.sms.peers")

POSTGRES_DSN = os.environ.get("CTI_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def _asyncpg_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def db_config(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[DatabaseConfig]:
    """A database of its own for one test: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'cti.db'}")
        return
    schema = f"t_{secrets.token_hex(6)}"
    conn = await asyncpg.connect(POSTGRES_DSN)
    try:
        await conn.execute(f"CREATE SCHEMA {schema}")
        yield DatabaseConfig(url=_asyncpg_url(POSTGRES_DSN), schema=schema)
    finally:
        await conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        await conn.close()


@pytest.fixture
async def engine(db_config: DatabaseConfig) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on the test's own database."""
    eng = create_engine(db_config)
    await migrate.upgrade(eng)
    yield eng
    await eng.dispose()


@pytest.fixture
def db(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return sessionmaker(engine)
