"""A plain asyncio AMI client for the simulator tests: raw TCP, CRLF frames, no AMI library."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import Final

from cti.ami.frames import AmiMessage, FrameSplitter, first, parse_frame

EOF_FRAME: Final = b""


class AmiTestClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.splitter = FrameSplitter()
        self.frames: asyncio.Queue[bytes] = asyncio.Queue()
        self.seen: list[bytes] = []
        self._ids = itertools.count(1)
        self._task = asyncio.get_running_loop().create_task(self._read(), name="ami-test-client")

    @classmethod
    async def connect(cls, port: int) -> AmiTestClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    @property
    def closed_by_peer(self) -> bool:
        return self._task.done()

    @property
    def banner(self) -> str | None:
        return self.splitter.banner

    async def _read(self) -> None:
        try:
            while data := await self.reader.read(65536):
                for frame in self.splitter.feed(data):
                    self.frames.put_nowait(frame)
        except ConnectionError:
            pass
        self.frames.put_nowait(EOF_FRAME)

    def send(self, action: str, **headers: str | list[str]) -> str:
        """Send an action with a fresh ActionID (unless one is given); the ActionID."""
        action_id = str(headers.pop("ActionID", f"t{next(self._ids)}"))
        lines = [f"Action: {action}", f"ActionID: {action_id}"]
        for key, value in headers.items():
            for item in [value] if isinstance(value, str) else value:
                lines.append(f"{key}: {item}")
        self.write("\r\n".join(lines).encode() + b"\r\n\r\n")
        return action_id

    def write(self, data: bytes) -> None:
        self.writer.write(data)

    async def next_frame(self, within: float = 5.0) -> bytes:
        frame = await asyncio.wait_for(self.frames.get(), within)
        self.seen.append(frame)
        return frame

    async def until(
        self, done: Callable[[AmiMessage], bool], within: float = 5.0
    ) -> list[AmiMessage]:
        """Messages up to and including the first that satisfies `done`."""
        got: list[AmiMessage] = []
        async with asyncio.timeout(within):
            while True:
                frame = await self.next_frame()
                if frame == EOF_FRAME:
                    raise ConnectionError(f"EOF while waiting; got {len(got)} messages")
                message = parse_frame(frame)
                got.append(message)
                if done(message):
                    return got

    async def response(self, action_id: str, within: float = 5.0) -> AmiMessage:
        found = await self.until(
            lambda m: "Response" in m and first(m, "ActionID") == action_id, within
        )
        return found[-1]

    async def action(self, action: str, **headers: str | list[str]) -> AmiMessage:
        return await self.response(self.send(action, **headers))

    async def login(
        self, secret: str = "ctisecret", username: str = "cti", **headers: str
    ) -> AmiMessage:
        return await self.action("Login", Username=username, Secret=secret, **headers)

    async def sync(self) -> list[AmiMessage]:
        """Everything the server sent before it answered a Ping sent now."""
        action_id = self.send("Ping")
        return await self.until(lambda m: first(m, "ActionID") == action_id and "Ping" in m)

    async def eof(self, within: float = 5.0) -> list[AmiMessage]:
        """Read to EOF; the messages that came before it."""
        got: list[AmiMessage] = []
        async with asyncio.timeout(within):
            while (frame := await self.next_frame()) != EOF_FRAME:
                got.append(parse_frame(frame))
        return got

    async def close(self) -> None:
        self.writer.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def events(messages: list[AmiMessage], name: str | None = None) -> list[AmiMessage]:
    return [m for m in messages if "Event" in m and (name is None or m["Event"] == name)]
