"""A real SQLite file whose write lock another connection holds, for the writers' failure tests."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from cti.config import DatabaseConfig
from cti.db import migrate
from cti.db.engine import create_engine, sessionmaker


@asynccontextmanager
async def sqlite_file(path: Path, busy_timeout_ms: int) -> AsyncIterator[async_sessionmaker[Any]]:
    """A migrated database at `path` whose writers wait `busy_timeout_ms` for a lock."""
    engine = create_engine(
        DatabaseConfig(url=f"sqlite+aiosqlite:///{path}", busy_timeout_ms=busy_timeout_ms)
    )
    await migrate.upgrade(engine)
    try:
        yield sessionmaker(engine)
    finally:
        await engine.dispose()


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the file's write lock from another connection, as a long report or backup would."""
    blocker = sqlite3.connect(path)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        blocker.rollback()
        blocker.close()


async def stop_while_writing(stop: Callable[[], Awaitable[None]]) -> asyncio.Task[None]:
    """Call stop() while a write waits for the lock, and check that stop() waits for it."""
    stopping = asyncio.ensure_future(stop())
    await asyncio.sleep(0.2)
    assert not stopping.done(), "stop() must wait for the write in progress"
    return stopping
