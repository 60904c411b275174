"""A scripted AMI server on 127.0.0.1 that speaks Asterisk's CRLF framing, for tests over real TCP.

It answers like Asterisk 22 (ground truth §1): the banner, Login (with FullyBooted, or a delayed
`Authentication failed` and a hang-up), Ping, Filter, QueueAdd, an async Originate (ack, then an
OriginateResponse with the same ActionID) and the QueueStatus list. Tests steer it with knobs:
`silent` (accept, never answer), `hang_up_on_accept`, `drop()`, `push()` of raw bytes or events,
and per-action `responders`; it records connections, logins and every action it received. It parses
on its own, not with cti.ami.frames, so the code under test does not check itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

BANNER = b"Asterisk Call Manager/11.0.0\r\n"

Headers = Mapping[str, str] | Sequence[tuple[str, str]]
Action = dict[str, str]


def encode(headers: Headers) -> bytes:
    """One frame as Asterisk writes it: `Key: Value` lines (empty values too) and a blank line."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return "".join(f"{key}: {value}\r\n" for key, value in pairs).encode() + b"\r\n"


def parse_action(raw: bytes) -> Action:
    """An action as the server saw it; a repeated header keeps its last value."""
    action: Action = {}
    for line in raw.decode("utf-8", "replace").split("\r\n"):
        key, sep, value = line.partition(":")
        if sep:
            action[key.strip()] = value.strip()
    return action


class Session:
    """One client connection."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.logged_in = False

    def write(self, *frames: Headers) -> None:
        self.write_raw(b"".join(encode(frame) for frame in frames))

    def write_raw(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def close(self) -> None:
        self.writer.close()

    def abort(self) -> None:
        self.writer.transport.abort()


Responder = Callable[[Session, Action], Awaitable[None]]


def reply(action: Action, response: str = "Success", **fields: str) -> list[tuple[str, str]]:
    """A response in Asterisk's header order: Response, ActionID (if sent), then the fields."""
    frame = [("Response", response)]
    if "ActionID" in action:
        frame.append(("ActionID", action["ActionID"]))
    return frame + list(fields.items())


class FakeAmi:
    def __init__(
        self,
        *,
        username: str = "cti",
        secret: str = "secret",
        auth_delay: float = 1.0,
        uptime: int = 3600,
    ) -> None:
        self.username = username
        self.secret = secret
        # Asterisk sleeps 1 s before refusing a login (ground truth §1.3); tests scale it down.
        self.auth_delay = auth_delay
        self.uptime = uptime
        self.silent = False
        self.hang_up_on_accept = False
        self.queue_status: list[dict[str, str]] = [
            {"Event": "QueueParams", "Queue": "support", "Strategy": "rrmemory", "Calls": "0"},
            {"Event": "QueueMember", "Queue": "support", "Name": "Alice", "Status": "1"},
        ]
        self.responders: dict[str, Responder] = {
            "ping": self._ping,
            "filter": self._ack("Success"),
            "queueadd": self._ack("Added interface to queue"),
            "originate": self._originate,
            "queuestatus": self._queue_status,
        }
        self.connections: list[float] = []
        self.login_attempts: list[float] = []
        self.logins: list[float] = []
        self.actions: list[Action] = []
        self.sessions: list[Session] = []
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        self.drop()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def drop(self) -> None:
        """Cut every client connection now, as a crashed PBX or a dead network would."""
        for session in list(self.sessions):
            session.abort()

    async def push(self, data: bytes) -> None:
        """Write raw bytes to every logged-in client."""
        for session in self.sessions:
            if session.logged_in:
                session.write_raw(data)
                await session.writer.drain()

    async def push_event(self, headers: Headers) -> None:
        await self.push(encode(headers))

    def received(self, name: str) -> list[Action]:
        """The actions received so far with this name, in order."""
        return [a for a in self.actions if a.get("Action", "").lower() == name.lower()]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)
        self.connections.append(time.monotonic())
        session = Session(writer)
        if self.hang_up_on_accept:
            session.close()
            return
        self.sessions.append(session)
        try:
            if not self.silent:
                session.write_raw(BANNER)
            while not writer.is_closing():
                action = parse_action(await reader.readuntil(b"\r\n\r\n"))
                self.actions.append(action)
                if not self.silent:
                    await self._respond(session, action)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        finally:
            self.sessions.remove(session)
            session.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _respond(self, session: Session, action: Action) -> None:
        name = action.get("Action", "").lower()
        if name == "login":
            await self._login(session, action)
        elif not session.logged_in:
            session.write(reply(action, "Error", Message="Permission denied"))
        elif name in self.responders:
            await self.responders[name](session, action)
        else:
            message = (
                f"Invalid/unknown command: {action.get('Action', '')}. "
                "Use Action: ListCommands to show available commands."
            )
            session.write(reply(action, "Error", Message=message))
        await session.writer.drain()

    async def _login(self, session: Session, action: Action) -> None:
        self.login_attempts.append(time.monotonic())
        if action.get("Username") != self.username or action.get("Secret") != self.secret:
            await asyncio.sleep(self.auth_delay)
            session.write(reply(action, "Error", Message="Authentication failed"))
            session.close()
            return
        session.logged_in = True
        self.logins.append(time.monotonic())
        session.write(
            reply(action, Message="Authentication accepted"),
            {
                "Event": "FullyBooted",
                "Privilege": "system,all",
                "Uptime": str(self.uptime),
                "LastReload": str(self.uptime),
                "Status": "Fully Booted",
            },
        )

    @staticmethod
    def _ack(message: str) -> Responder:
        async def respond(session: Session, action: Action) -> None:
            session.write(reply(action, Message=message))

        return respond

    @staticmethod
    async def _ping(session: Session, action: Action) -> None:
        session.write(reply(action, Ping="Pong", Timestamp=f"{time.time():.6f}"))

    @staticmethod
    async def _originate(session: Session, action: Action) -> None:
        session.write(reply(action, Message="Originate successfully queued"))
        outcome = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
        if "ActionID" in action:
            outcome.append(("ActionID", action["ActionID"]))
        outcome += [
            ("Response", "Success"),
            ("Channel", f"{action.get('Channel', '')}-00000001;1"),
            ("Context", action.get("Context", "")),
            ("Exten", action.get("Exten", "")),
            ("Reason", "4"),
            ("Uniqueid", "1795389598.68"),
            ("CallerIDNum", "<unknown>"),
            ("CallerIDName", "<unknown>"),
        ]
        session.write(outcome)

    async def _queue_status(self, session: Session, action: Action) -> None:
        action_id = [("ActionID", action["ActionID"])] if "ActionID" in action else []
        session.write(
            reply(action, EventList="start", Message="Queue status will follow"),
            # In QueueParams and QueueMember the ActionID is the last header (ground truth §0).
            *(list(item.items()) + action_id for item in self.queue_status),
            [("Event", "QueueStatusComplete"), *action_id]
            + [("EventList", "Complete"), ("ListItems", str(len(self.queue_status)))],
        )


async def eventually(condition: Callable[[], bool], within: float = 2.0) -> None:
    """Wait until `condition()` holds, failing the test after `within` seconds."""
    async with asyncio.timeout(within):
        # Polling: the conditions span the server, the link and metrics, which share no signal.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.002)
