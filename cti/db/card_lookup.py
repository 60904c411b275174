"""A screen-pop's customer lookup in one trip to the database and back.

Through the async engine every statement of a lookup costs several turns of the event loop:
aiosqlite hands each cursor call (open, execute, fetch, close) to its thread and back, and
under load each turn waits behind the AMI traffic. A lookup of four statements took some twenty
turns, most of a pop's latency. On SQLite the whole lookup therefore runs in a thread of its
own on a plain connection (WAL lets it read beside the writer): one hand-off there, one back.
On PostgreSQL it stays on the async engine, where asyncpg costs one turn per statement, in
autocommit (no BEGIN and ROLLBACK round trips).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Final

from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from cti.core.numbers import Number
from cti.db.customers import Card, pop_cards
from cti.db.engine import tune_sqlite

# Lookups at once; more would only queue on SQLite's page cache and the GIL.
THREADS: Final = 4


class CardLookup:
    def __init__(self, engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
        # Reads only: in autocommit there is no BEGIN and ROLLBACK to wait for.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._reader: Engine | None = None
        self._threads: ThreadPoolExecutor | None = None
        url = engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self._reader = create_engine(make_url(url).set(drivername="sqlite+pysqlite"))
            tune_sqlite(self._reader, busy_timeout_ms)
            self._threads = ThreadPoolExecutor(THREADS, thread_name_prefix="pop-lookup")

    async def cards(
        self, number: Number, suffix_digits: int, limit: int, *, withheld: bool
    ) -> list[Card]:
        """The cards of the customers holding `number`, most recent contact first; the calls of
        withheld callers are in their histories only if `withheld`."""
        if self._threads is None:
            async with self._engine.connect() as connection:
                return await connection.run_sync(
                    pop_cards, number, suffix_digits, limit, withheld=withheld
                )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._threads, self._cards_here, number, suffix_digits, limit, withheld
        )

    def _cards_here(
        self, number: Number, suffix_digits: int, limit: int, withheld: bool
    ) -> list[Card]:
        assert self._reader is not None
        with self._reader.connect() as connection:
            return pop_cards(connection, number, suffix_digits, limit, withheld=withheld)

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(wait=True)
        if self._reader is not None:
            self._reader.dispose()
