"""The database engine: built from the configuration, tuned per backend, checked for migrations."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import Connection
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from cti.config import DatabaseConfig
from cti.db import migrate
from cti.errors import NotMigratedError, StorageError

logger = logging.getLogger(__name__)

Sessionmaker = async_sessionmaker


def create_engine(config: DatabaseConfig) -> AsyncEngine:
    kwargs: dict[str, Any] = {"echo": config.echo}
    if config.url.startswith("sqlite"):
        engine = create_async_engine(config.url, **kwargs)
        tune_sqlite(engine.sync_engine, config.busy_timeout_ms)
        return engine
    connect_args: dict[str, Any] = {}
    if config.schema:
        connect_args["server_settings"] = {"search_path": config.schema}
    return create_async_engine(
        config.url,
        pool_size=config.pool_size,
        pool_pre_ping=True,
        connect_args=connect_args,
        **kwargs,
    )


def tune_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """WAL lets readers run beside the writer; busy_timeout waits for a lock instead of failing."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # A million customers make a database of a few hundred MB: with the default 2 MB page
        # cache a lookup goes to the OS for index pages; a larger cache and memory-mapped reads
        # keep the hot ones at hand.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.execute("PRAGMA mmap_size=1073741824")
        cursor.close()


def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[Any]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ensure_migrated(engine: AsyncEngine) -> None:
    """Refuse to run on a schema older (or newer) than this code expects."""
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(_current_revision)
    except (SQLAlchemyError, OSError) as exc:
        raise StorageError(f"cannot reach the database: {exc}") from exc
    head = migrate.head_revision()
    if current != head:
        state = "empty" if current is None else f"at revision {current}"
        raise NotMigratedError(
            f"the database is {state}, this version needs {head}; "
            "run `cti db upgrade -c <config file>` to migrate it"
        )


def _current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()
