"""One AMI client connection: its login state, rights, event mask, filters and writes.

Asterisk writes events only between actions (manager.c:7285-7290): while an action runs, events for
the session wait and follow its response. A reader that lets the socket back up for longer than
the write timeout is dropped, as Asterisk does (ground truth §1.8).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Final

from cti.ami.classes import ALL
from cti.ami.frames import FrameSplitter
from cti.sim.wire import BANNER, Fields, encode

if TYPE_CHECKING:
    from cti.sim.server import AmiServer

logger = logging.getLogger(__name__)

# Bytes a reader may leave unread, and for how long (writetimeout = 5000 in the rig), before the
# session is dropped.
_BACKLOG: Final = 4 << 20
_WRITE_TIMEOUT: Final = 5.0


class Session:
    def __init__(
        self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        # The user's read and write classes (manager.c's names), and the event classes the
        # session asked for.
        self.readperm: frozenset[str] = frozenset()
        self.writeperm: frozenset[str] = frozenset()
        self.mask: frozenset[str] = ALL
        self.includes: list[re.Pattern[str]] = []
        self.excludes: list[re.Pattern[str]] = []
        self.challenge = ""
        self.closing = False
        self._held: list[bytes] | None = None
        self._stalled_since: float | None = None

    def deliver(self, category: str, payload: bytes) -> None:
        if not self.authenticated or self.closing or not self.reads(category):
            return
        if self.includes or self.excludes:
            text = payload.decode("utf-8", "replace")
            if self.includes and not any(p.search(text) for p in self.includes):
                return
            if any(p.search(text) for p in self.excludes):
                return
        if self._held is not None:
            self._held.append(payload)
        else:
            self.write(payload)

    def reads(self, category: str) -> bool:
        """Whether events of this class reach the session (manager.c:6427-6433)."""
        return category in self.readperm and category in self.mask

    def send(self, fields: Fields) -> None:
        self.write(encode(fields))

    def write(self, data: bytes) -> None:
        if self.closing:
            return
        self.writer.write(data)
        transport = self.writer.transport
        if transport.get_write_buffer_size() < _BACKLOG:
            self._stalled_since = None
            return
        now = asyncio.get_running_loop().time()
        if self._stalled_since is None:
            self._stalled_since = now
        elif now - self._stalled_since > _WRITE_TIMEOUT:
            self.abort()

    def close(self) -> None:
        """Close after what was written (Logoff, failed login)."""
        if not self.closing:
            self.closing = True
            self.writer.close()

    def abort(self) -> None:
        """Drop the connection at once: the client sees EOF and nothing more (restart)."""
        if not self.closing:
            self.closing = True
            self.writer.transport.abort()

    async def run(self) -> None:
        self.write(BANNER)
        splitter = FrameSplitter()
        try:
            while not self.closing:
                data = await self.reader.read(65536)
                if not data:
                    break
                for frame in splitter.feed(data):
                    await self._handle(frame)
                    if self.closing:
                        break
        except ConnectionError:
            pass
        finally:
            self.close()

    async def _handle(self, frame: bytes) -> None:
        self._held = []
        try:
            await self.server.actions.handle(self, frame)
        except Exception:
            # A simulator bug in one action must not take the client's session down with it.
            logger.exception("simulated action failed: %r", frame[:200])
            self.send([("Response", "Error"), ("Message", "Internal simulator error")])
        finally:
            held, self._held = self._held, None
            for payload in held:
                self.write(payload)
