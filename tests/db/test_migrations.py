from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.config import DatabaseConfig
from cti.db import migrate
from cti.db.engine import create_engine, ensure_migrated
from cti.db.models import Base
from cti.errors import NotMigratedError


async def test_service_refuses_an_unmigrated_database_and_names_the_fix(
    db_config: DatabaseConfig,
) -> None:
    engine = create_engine(db_config)
    try:
        with pytest.raises(NotMigratedError, match="cti db upgrade"):
            await ensure_migrated(engine)
        await migrate.upgrade(engine)
        await ensure_migrated(engine)
    finally:
        await engine.dispose()


async def test_migrations_create_exactly_the_tables_the_models_declare(engine: AsyncEngine) -> None:
    def tables(sync: Any) -> set[str]:
        return set(inspect(sync).get_table_names()) - {"alembic_version"}

    async with engine.connect() as conn:
        found = await conn.run_sync(tables)
    assert found == set(Base.metadata.tables)


async def test_migrations_match_the_models_column_for_column(engine: AsyncEngine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def diff(sync: Any) -> list[Any]:
        ctx = MigrationContext.configure(sync, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))

    async with engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_downgrade_to_base_and_back_up(engine: AsyncEngine) -> None:
    await migrate.downgrade(engine, "base")
    with pytest.raises(NotMigratedError):
        await ensure_migrated(engine)
    await migrate.upgrade(engine)
    await ensure_migrated(engine)
