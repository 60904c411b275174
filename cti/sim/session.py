"""One AMI client connection: its login state, event mask, filters and writes.

Asterisk writes events only between actions (manager.c:7285-7290): while an action runs, events for
the session wait and follow its response. A reader that lets the socket back up for longer than
the write timeout is dropped, as Asterisk does (ground truth §1.8).
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Final

from cti.ami.frames import FrameSplitter
from cti.sim.wire import BANNER, Fields, encode

if TYPE_CHECKING:
    from cti.sim.server import AmiServer

logger = logging.getLogger(__name__)

CLASS_BITS: Final = {
    "system": 1,
    "call": 2,
    "log": 4,
    "verbose": 8,
    "command": 16,
    "agent": 32,
    "user": 64,
    "config": 128,
    "dtmf": 256,
    "reporting": 512,
    "cdr": 1024,
    "dialplan": 2048,
    "originate": 4096,
    "agi": 8192,
    "security": 131072,
}
# The rig's manager user: read = system,call,agent,user,dialplan,cdr.
READ: Final = frozenset({"system", "call", "agent", "user", "dialplan", "cdr"})
# Bytes a reader may leave unread, and for how long (writetimeout = 5000 in the rig), before the
# session is dropped.
_BACKLOG: Final = 4 << 20
_WRITE_TIMEOUT: Final = 5.0


def parse_mask(text: str) -> frozenset[str]:
    """An `Events:`/`EventMask:` value: on, off, a number, or a class list (set_eventmask)."""
    value = text.strip().lower()
    if value in ("on", "yes", "true", "y", "t", "1", "all"):
        return READ
    if value in ("off", "no", "false", "n", "f", "0", ""):
        return frozenset()
    if value.isdigit():
        bits = int(value)
        return frozenset(c for c, bit in CLASS_BITS.items() if bits & bit) & READ
    names = {part.strip() for part in value.split(",")}
    return READ if "all" in names else frozenset(names) & READ


class Session:
    def __init__(
        self, server: AmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.authenticated = False
        self.mask: frozenset[str] = READ
        self.includes: list[re.Pattern[str]] = []
        self.excludes: list[re.Pattern[str]] = []
        self.challenge = ""
        self.closing = False
        self._held: list[bytes] | None = None
        self._stalled_since: float | None = None

    def deliver(self, category: str, payload: bytes) -> None:
        if not self.authenticated or self.closing or category not in self.mask:
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
