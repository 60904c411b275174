"""A loopback AMI server that replays a real capture to whoever logs in, in chunks of any size.

It answers our own actions in Asterisk's words, as to the rig's manager user with all its rights
(Login with FullyBooted, ListCommands, the resync lists, Ping, Filter, a global Setvar with its
VarSet) and streams the capture's events in between, exactly as recorded, split into `chunk`-byte
writes. Frames that answered the recording client's own actions (they carry its ActionIDs) are
left out. An empty frame in the capture (EOF) closes the connection; the next login then sees a
freshly restarted PBX with no calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from cti.ami.frames import AmiMessage, FrameSplitter, first, parse_frame
from cti.sim.config import RIG_WRITE
from cti.sim.privileges import command_list
from cti.sim.wire import encode
from tests import amitraces

BANNER = b"Asterisk Call Manager/11.0.0\r\n"


def _events_until_eof(name: str, cut_after: str = "") -> tuple[bytes, bool, bytes]:
    """The capture's broadcast events as one byte string, whether it ended in an EOF, and the
    events after that EOF when the capture was cut.

    `cut_after`: end the capture in an EOF right after the first event of that name."""
    splitter = FrameSplitter()
    out = bytearray()
    rest = bytearray()
    cut = False
    for frame in amitraces.load(name):
        if frame.eof:
            return bytes(out), True, bytes(rest)
        if not frame.incoming:
            continue
        for raw in splitter.feed(frame.frame):
            message = parse_frame(raw)
            if (
                "ActionID" in message
                or "Event" not in message
                or first(message, "Event")
                in (
                    "FullyBooted",
                    "SuccessfulAuth",
                )
            ):
                continue
            (rest if cut else out).extend(raw + b"\r\n\r\n")
            cut = cut or first(message, "Event") == cut_after
    return bytes(out), cut, bytes(rest)


class ReplayServer:
    """`late`: after a cut, the next session gets the rest of the capture just before the
    QueueStatus reply: the call ended while the client was logging in again. `stall`: the first
    QueueStatus of session number `stall_session` is answered that many seconds late, and nothing
    else meanwhile, like an Asterisk busy for a while."""

    def __init__(
        self,
        name: str,
        chunk: int,
        cut_after: str = "",
        late: bool = False,
        stall: float = 0.0,
        stall_session: int = 1,
    ) -> None:
        self._events, self._ends_with_eof, self._late = _events_until_eof(name, cut_after)
        # A late end is a lost connection, not a restart: the PBX then keeps its uptime.
        self._restarts = not late
        if not late:
            self._late = b""
        self._chunk = chunk
        self._stall = stall
        self._stall_session = stall_session
        self._members = amitraces.rig_queues()[1]
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = asyncio.Event()
        self.sessions = 0
        self.eof_at: float | None = None
        self.finished = asyncio.Event()
        self.actions: list[str] = []

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # Ends a stall: a session cancelled instead ends in a traceback (Python 3.11's
        # StreamReaderProtocol asks a cancelled task for its exception).
        self._closing.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _write(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        for start in range(0, len(data), self._chunk):
            writer.write(data[start : start + self._chunk])
            await writer.drain()
            if self._chunk < 64:
                await asyncio.sleep(0)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self.sessions += 1
        session = self.sessions
        first_session = session == 1
        streamer: asyncio.Task[None] | None = None
        try:
            await self._write(writer, BANNER)
            splitter = FrameSplitter()
            while data := await reader.read(65536):
                for raw in splitter.feed(data):
                    action = parse_frame(raw)
                    name = first(action, "Action").lower()
                    self.actions.append(name)
                    if name == "queuestatus" and self._stall and session == self._stall_session:
                        stall, self._stall = self._stall, 0.0
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._closing.wait(), stall)
                    if self._closing.is_set():
                        return
                    if name == "queuestatus" and not first_session and self._late:
                        await self._write(writer, self._late)
                        self._late = b""
                    await self._write(writer, self._reply(action, first_session))
                    if name == "coreshowchannels" and streamer is None and first_session:
                        streamer = asyncio.create_task(self._stream(writer))
        finally:
            if streamer is not None:
                streamer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await streamer
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _stream(self, writer: asyncio.StreamWriter) -> None:
        await self._write(writer, self._events)
        self.finished.set()
        if self._ends_with_eof:
            self.eof_at = time.time()
            writer.transport.abort()

    def _reply(self, action: AmiMessage, first_session: bool) -> bytes:
        name, action_id = first(action, "Action").lower(), first(action, "ActionID")
        head = f"Response: Success\r\nActionID: {action_id}\r\n"
        if name == "login":
            uptime = 2 if self._restarts and not first_session else 134
            return (
                f"{head}Message: Authentication accepted\r\n\r\n"
                f"Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: {uptime}\r\n"
                f"LastReload: {uptime}\r\nStatus: Fully Booted\r\n\r\n"
            ).encode()
        if name == "queuestatus":
            return amitraces.queue_status_reply(action_id, self._members)
        if name == "coreshowchannels":
            return (
                f"{head}EventList: start\r\nMessage: Channels will follow\r\n\r\n"
                f"Event: CoreShowChannelsComplete\r\nActionID: {action_id}\r\n"
                "EventList: Complete\r\nListItems: 0\r\n\r\n"
            ).encode()
        if name == "ping":
            return f"{head}Ping: Pong\r\nTimestamp: 1795389458.827162\r\n\r\n".encode()
        if name == "listcommands":
            return f"{head}".encode() + encode(command_list(RIG_WRITE))
        if name == "setvar":
            # A global variable (no channel here): its VarSet follows the answer.
            varset = [("Event", "VarSet"), ("Privilege", "dialplan,all")]
            varset += [("Channel", "none"), ("Uniqueid", "none")]
            varset += [("Variable", first(action, "Variable")), ("Value", first(action, "Value"))]
            return f"{head}Message: Variable Set\r\n\r\n".encode() + encode(varset)
        return f"{head}Message: OK\r\n\r\n".encode()


@contextlib.asynccontextmanager
async def replaying(
    name: str,
    chunk: int,
    cut_after: str = "",
    late: bool = False,
    stall: float = 0.0,
    stall_session: int = 1,
) -> AsyncIterator[ReplayServer]:
    server = ReplayServer(name, chunk, cut_after, late, stall, stall_session)
    await server.start()
    try:
        yield server
    finally:
        await server.close()
