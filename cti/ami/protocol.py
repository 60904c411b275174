"""panoramisk's AMIProtocol with our byte framing, a send guard and honest disconnects.

panoramisk 1.4 keeps the action bookkeeping (ActionID correlation, list completion) and we keep it.
We replace what ground truth §4.3 found broken:
- data_received decodes per TCP read and drops trailing empty headers (D4, D5); an exception raised
  while handling one message closes the transport (D2, D3). Here frames come from FrameSplitter and
  parse_frame, and a failure while handling one frame is counted and logged, never fatal.
- An action in flight when the connection drops hangs forever or is parked until a FullyBooted that
  may never come (D7). Here connection_lost fails every pending action first, so nothing is parked.
- send writes whatever it is given; a CR or LF in a value would inject headers (§4.5 item 3).
- An action sent as a list waits for the list's end even when Asterisk answered `Response: Error`,
  which it does at once and with no list after it (`Permission denied` to CoreShowChannels): the
  caller saw a timeout instead of the error. Here an Error as the first reply answers the action.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message
from panoramisk.utils import CaseInsensitiveDict

from cti.ami.errors import AmiConnectionLost, UnsafeValue
from cti.ami.frames import MAX_FRAME, AmiMessage, FrameSplitter, first, parse_frame
from cti.ami.sieve import EventSieve
from cti.errors import AmiError
from cti.metrics import Metrics

logger = logging.getLogger(__name__)

PROTOCOL_ERRORS = "cti_ami_protocol_errors_total"
_UNSAFE = re.compile(r"[\r\n\0]")


class FrameMessage(Message):  # type: ignore[misc]
    """A panoramisk Message built from one parsed frame, which it keeps as `frame`."""

    def __init__(self, frame: AmiMessage) -> None:
        # Message.__init__ would add a synthetic 'content' key, overwriting a real Content header.
        CaseInsensitiveDict.__init__(self, frame)
        self.frame = frame


def check_safe(action: Mapping[str, object]) -> None:
    """Refuse an action whose header names or values could break out of their line."""
    for key, value in action.items():
        values = value if isinstance(value, list | tuple) else (value,)
        if _UNSAFE.search(key) or any(_UNSAFE.search(str(v)) for v in values):
            # The value itself stays out of the message: it may be a secret or a customer's name.
            raise UnsafeValue(f"header {key!r} holds CR, LF or NUL; nothing was sent")


class AmiProtocol(AMIProtocol):  # type: ignore[misc]
    def __init__(self, pbx: str, metrics: Metrics, sieve: EventSieve | None = None) -> None:
        self._pbx = pbx
        self._metrics = metrics
        self._sieve = sieve
        self._splitter = FrameSplitter()
        self.gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost_reason = ""
        # Monotonic instants: the last bytes from the PBX, and when the connection went.
        self.last_received = time.monotonic()
        self.lost_at: float | None = None
        # Dropped because the PBX stopped answering: it was last known alive when it last spoke.
        self.silent = False
        self.logged_in = False

    @property
    def banner(self) -> str:
        return self._splitter.banner or ""

    @property
    def lost_moment(self) -> float | None:
        """When the PBX was last known to be there, for a connection that is gone."""
        if self.lost_at is None:
            return None
        return self.last_received if self.silent else self.lost_at

    def data_received(self, data: bytes) -> None:
        self.last_received = time.monotonic()
        oversized = self._splitter.oversized
        frames = self._splitter.feed(data)
        if self._splitter.oversized != oversized:
            self._metrics.inc(PROTOCOL_ERRORS, pbx=self._pbx, kind="oversized")
            logger.warning("pbx %s: dropped a frame over %d bytes", self._pbx, MAX_FRAME)
        sieve = self._sieve
        for raw in frames:
            if sieve is not None and not sieve.keeps(raw):
                continue
            try:
                frame = parse_frame(raw)
                if "Event" in frame and "ActionID" not in frame and frame["Event"] != "Shutdown":
                    # Most traffic: an event no action waits for. panoramisk would build a
                    # case-insensitive Message and look for an action first; neither is needed.
                    self.factory.dispatch_frame(frame)
                elif "Event" in frame or "Response" in frame:
                    self.handle_message(FrameMessage(frame))
            except Exception:
                self._metrics.inc(PROTOCOL_ERRORS, pbx=self._pbx, kind="handling")
                logger.exception("pbx %s: could not handle an AMI frame; skipped it", self._pbx)

    def send(self, data: Mapping[str, object], as_list: bool | None = False) -> Any:
        check_safe(data)
        return super().send(data, as_list=as_list)

    def handle_message(self, message: FrameMessage) -> None:
        action = self.responses.get(first(message.frame, "ActionID"))
        if (
            action is not None
            and not action.responses
            and first(message.frame, "Response") == "Error"
        ):
            self.forget(action.action_id)
            if not action.future.done():
                action.future.set_result(message)
            return
        super().handle_message(message)

    def forget(self, action_id: str) -> None:
        """Stop tracking an action whose caller gave up (timeout, cancellation)."""
        action = self.responses.pop(action_id, None)
        if action is not None:
            self.responses.pop(action.id, None)

    def fail_pending(self, error: Callable[[], AmiError]) -> None:
        """Fail every action still waiting for its reply, so no caller hangs (D7)."""
        pending = {id(action): action for action in self.responses.values()}
        self.responses.clear()
        for action in pending.values():
            if not action.future.done():
                action.future.set_exception(error())

    def abort(self, reason: str, *, silent: bool = False) -> None:
        """Drop the connection at once; abort(), not close(), so the Manager hears of it (§4.5).

        `silent`: because the PBX stopped answering."""
        self.lost_reason = self.lost_reason or reason
        self.silent = self.silent or silent
        self.transport.abort()

    def connection_lost(self, exc: object) -> None:
        # Also reached from handle_message on a Shutdown event, with that message as `exc`.
        if not self.gone.done():
            self.lost_at = time.monotonic()
            self.lost_reason = self.lost_reason or _describe(exc)
            self.fail_pending(lambda: AmiConnectionLost(f"connection lost: {self.lost_reason}"))
            self.gone.set_result(None)
        if self.factory is None:
            # Lost before the Manager adopted this protocol: there is nothing to tell it.
            self.closed = True
            return
        super().connection_lost(exc)


def _describe(exc: object) -> str:
    if exc is None:
        return "closed by the PBX"
    if isinstance(exc, BaseException):
        return str(exc) or type(exc).__name__
    return "the PBX is shutting down"
