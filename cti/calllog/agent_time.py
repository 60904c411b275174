"""Agent time accounting: every stretch an agent spent in a state, written as it closes.

A stretch closes when the agent's state (or pause reason) changes, when the agent leaves its last
queue ("logged-out"), and at shutdown; stretches are written in batches once a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.core.events import AgentChanged
from cti.db.models import AgentPeriod

logger = logging.getLogger(__name__)

LOGGED_OUT: Final = "logged-out"
FLUSH_SECONDS: Final = 1.0


@dataclass(frozen=True, slots=True)
class _Open:
    name: str
    state: str
    reason: str
    since: datetime


class AgentTimeWriter:
    def __init__(self, db: async_sessionmaker[AsyncSession]) -> None:
        self._db = db
        self._open: dict[tuple[str, str], _Open] = {}
        self._closed: list[dict[str, Any]] = []
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def handle(self, event: object) -> None:
        """Bus subscriber for AgentChanged."""
        if not isinstance(event, AgentChanged):
            return
        agent = event.agent
        state = agent.state.value if agent.queues else LOGGED_OUT
        reason = agent.paused_reason if state == "paused" else ""
        key = (agent.pbx, agent.interface)
        current = self._open.get(key)
        if current is not None and (current.state, current.reason) == (state, reason):
            return
        if current is not None:
            self._close(key, current, agent.since)
        if state == LOGGED_OUT:
            self._open.pop(key, None)
        else:
            self._open[key] = _Open(agent.name, state, reason, agent.since)

    def _close(self, key: tuple[str, str], stretch: _Open, end: datetime) -> None:
        if end > stretch.since:
            self._closed.append(
                {
                    "pbx": key[0],
                    "interface": key[1][:128],
                    "agent_name": stretch.name[:120],
                    "state": stretch.state,
                    "paused_reason": stretch.reason[:60],
                    "started_at": stretch.since,
                    "ended_at": end,
                }
            )

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="agent-time-writer")

    async def stop(self) -> None:
        """Close the open stretches and write everything; a write in progress is waited for,
        never cancelled (cancelled, it took its batch with it)."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        now = datetime.now(UTC)
        for key, stretch in self._open.items():
            self._close(key, stretch, now)
        self._open.clear()
        await self.flush()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(FLUSH_SECONDS):
                    await self._stopping.wait()
            await self.flush()

    async def flush(self) -> bool:
        if not self._closed:
            return True
        batch, self._closed = self._closed, []
        try:
            async with self._db.begin() as session:
                await session.execute(insert(AgentPeriod), batch)
        except (SQLAlchemyError, OSError):
            logger.exception("agent time: writing %d periods failed; will retry", len(batch))
            self._closed = batch + self._closed
            return False
        return True
