"""The AMI TCP server: accepts sessions and hands every event of the PBX to each of them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from cti.sim.actions import Actions
from cti.sim.pbx import Pbx
from cti.sim.session import Session

logger = logging.getLogger(__name__)


class AmiServer:
    def __init__(self, pbx: Pbx, on_restart: Callable[[], None]) -> None:
        self.pbx = pbx
        self.actions = Actions(pbx, on_restart)
        self.sessions: set[Session] = set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._accept, host, port)
        port = self._server.sockets[0].getsockname()[1]
        logger.info("simulated PBX listening on %s:%d", host, port)
        return int(port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        session = Session(self, reader, writer)
        self.sessions.add(session)
        self.pbx.listeners.append(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)
            if session in self.pbx.listeners:
                self.pbx.listeners.remove(session)
            if task is not None:
                self._tasks.discard(task)

    async def drop_sessions(self) -> None:
        """Close every session without a word: clients see EOF, as on `core restart now`."""
        for session in list(self.sessions):
            session.abort()
        tasks = list(self._tasks)
        if tasks:
            await asyncio.wait(tasks, timeout=5)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        await self.drop_sessions()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
