"""Server push over WebSocket: named channels, numbered messages, resume after a network blip.

Every message on a channel gets the next sequence number and is kept in a short history, so a
page that reconnects with `?since=<last seq it saw>` receives what it missed, in order; if that is
older than the history, it is told to reload. Slow or dead sockets never hold up the others: each
socket has its own bounded queue and writer task, and is dropped when the queue overflows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import WSCloseCode, web

logger = logging.getLogger(__name__)

HISTORY: Final = 500
SOCKET_BACKLOG: Final = 1000
HEARTBEAT_SECONDS: Final = 15.0


@dataclass(slots=True)
class _Channel:
    seq: int = 0
    history: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=HISTORY))
    sockets: set[_Socket] = field(default_factory=set)


@dataclass(eq=False, slots=True)
class _Socket:
    ws: web.WebSocketResponse
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(SOCKET_BACKLOG)
    )


class PushHub:
    def __init__(self) -> None:
        self._channels: dict[str, _Channel] = {}
        self._closing = False

    def publish(self, channel: str, kind: str, data: Any) -> int:
        """Number the message, remember it and queue it for every socket on the channel."""
        chan = self._channels.setdefault(channel, _Channel())
        chan.seq += 1
        message = {"seq": chan.seq, "kind": kind, "data": data}
        chan.history.append(message)
        for sock in list(chan.sockets):
            try:
                sock.queue.put_nowait(message)
            except asyncio.QueueFull:
                logger.warning(
                    "push: a socket on %s fell %d messages behind; dropped", channel, SOCKET_BACKLOG
                )
                chan.sockets.discard(sock)
                asyncio.get_running_loop().create_task(
                    sock.ws.close(code=WSCloseCode.TRY_AGAIN_LATER)
                )
        return chan.seq

    def last_seq(self, channel: str) -> int:
        chan = self._channels.get(channel)
        return 0 if chan is None else chan.seq

    def listeners(self, channel: str) -> int:
        chan = self._channels.get(channel)
        return 0 if chan is None else len(chan.sockets)

    def backlog(self, channel: str, since: int | None) -> list[dict[str, Any]]:
        """What a page that last saw `since` missed, or one "reload" if that is unknowable."""
        chan = self._channels.setdefault(channel, _Channel())
        if since is None or since == chan.seq:
            return []
        missed = [m for m in chan.history if m["seq"] > since]
        if since > chan.seq or not missed or missed[0]["seq"] > since + 1:
            # Too far behind, or numbered by a server that has since restarted.
            return [{"seq": chan.seq, "kind": "reload", "data": None}]
        return missed

    async def serve(self, request: web.Request, channel: str) -> web.WebSocketResponse:
        """Hold one WebSocket open on `channel` until either side closes it."""
        ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
        await ws.prepare(request)
        if self._closing:
            await ws.close(code=WSCloseCode.GOING_AWAY)
            return ws
        chan = self._channels.setdefault(channel, _Channel())
        sock = _Socket(ws)
        for message in self.backlog(channel, _since(request)):
            sock.queue.put_nowait(message)
        chan.sockets.add(sock)
        writer = asyncio.create_task(self._write(sock), name=f"push:{channel}")
        try:
            async for _ in ws:
                pass  # the page only listens; heartbeats are answered by aiohttp
        finally:
            chan.sockets.discard(sock)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _write(self, sock: _Socket) -> None:
        while True:
            message = await sock.queue.get()
            try:
                await sock.ws.send_json(message)
            except ConnectionError:
                return

    async def close(self) -> None:
        """Tell every page the server is going away (they reconnect to the next one)."""
        self._closing = True
        sockets = [s for chan in self._channels.values() for s in chan.sockets]
        await asyncio.gather(
            *(s.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown") for s in sockets),
            return_exceptions=True,
        )


def _since(request: web.Request) -> int | None:
    raw = request.query.get("since", "")
    return int(raw) if raw.isdigit() else None
