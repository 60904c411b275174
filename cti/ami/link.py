"""AmiLink: one PBX over AMI, kept connected, with every event handed on in arrival order.

Built on panoramisk 1.4's Manager (TCP connect, protocol wiring, action correlation) with our
AmiProtocol. Where 1.4 is wrong (ground truth §4.3) the Manager subclass below takes over:
- Reconnecting. Manager schedules `call_later(reconnect_timeout, connect)` from connection_made
  and connection_lost: a fixed delay, no back-off, and a handle close() cannot cancel (D10, D11).
  Here one owned task, "ami-link:<pbx>", connects, logs in, heartbeats and sleeps with back-off;
  close() cancels that task, so no reconnect can follow it.
- Login. Manager.connection_made sends Login and its done callback calls future.result()
  unguarded, then treats a refusal like any disconnect (D11, D13). The link sends Login itself,
  with a deadline, and tells "Authentication failed" apart (health failed, slow retries).
- Keepalive. Manager.ping never reads the Pong (D6); it is disabled and the link pings with a
  deadline, aborting the transport when the PBX stops answering (§4.5 item 4).
- Events. Manager.dispatch runs callbacks inline and fire-and-forgets coroutines: a raising callback
  kills the connection, and async ones finish out of order (D3, D12). dispatch only enqueues here;
  one consumer task awaits on_event strictly in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import random
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from panoramisk import Manager

from cti.ami.errors import (
    AmiActionFailed,
    AmiActionTimeout,
    AmiAuthFailed,
    AmiClosed,
    AmiConnectionLost,
)
from cti.ami.frames import AmiMessage, first
from cti.ami.protocol import PROTOCOL_ERRORS, AmiProtocol, FrameMessage
from cti.ami.sieve import EventSieve
from cti.config import PbxConfig
from cti.health import HealthRegistry
from cti.metrics import Metrics

logger = logging.getLogger(__name__)

# Read by the link itself: the PBX's uptime at login, and its going down.
_LINK_EVENTS = ("FullyBooted", "Shutdown")
# Each back-off delay is shortened by up to this fraction, so many links do not retry in step.
JITTER = 0.25
Reply = FrameMessage | list[FrameMessage]


@dataclass(frozen=True, slots=True)
class LoginInfo:
    """What the PBX said about itself at login; a small uptime means it restarted.

    `lost`: when (time.monotonic()) the PBX was last known alive on the link before this login,
    None at the first login: what happened since was not seen."""

    banner: str
    uptime: float | None
    last_reload: float | None
    lost: float | None = None


class Backoff:
    """Exponential delays from `low` doubling up to `cap`, with jitter."""

    def __init__(self, low: float, cap: float) -> None:
        self._low = low
        self._cap = cap
        self._step = 0

    def next(self) -> float:
        base = min(self._cap, self._low * 2.0 ** min(self._step, 32))
        self._step += 1
        return base * (1 - JITTER * random.random())

    def reset(self) -> None:
        self._step = 0


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager with its reconnect, login, ping and dispatch handed to the link."""

    pinger: asyncio.TimerHandle | None

    def __init__(self, on_event: Callable[[AmiMessage], None], **config: Any) -> None:
        super().__init__(**config)
        self._on_event = on_event
        self.closing = False

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            return  # the link's task sees the failure and retries with back-off
        if self.closing:
            f.result()[0].abort()
            return
        super().connection_made(f)

    def connection_lost(self, exc: object) -> None:
        self._connected = False
        if self.pinger is not None:
            self.pinger.cancel()
            self.pinger = None

    def ping(self) -> None:
        """Disabled: the link's heartbeat checks the reply, this one never did (D6)."""

    def dispatch(self, event: FrameMessage) -> None:
        self._on_event(event.frame)

    def dispatch_frame(self, frame: AmiMessage) -> None:
        """An event no action waits for, straight from the protocol (no Message built)."""
        self._on_event(frame)


class AmiLink:
    """The connection to one PBX: reconnects, heartbeats, FIFO events, actions with deadlines."""

    def __init__(
        self,
        config: PbxConfig,
        *,
        on_event: Callable[[AmiMessage, float], Awaitable[None]],
        on_login: Callable[[LoginInfo], Awaitable[None]],
        health: HealthRegistry,
        metrics: Metrics,
        events: Iterable[str] | None = None,
        variables: Iterable[str] | None = None,
        on_frame: Callable[[AmiMessage], None] | None = None,
    ) -> None:
        """`events`: the event names on_event reads (None: all); the others are dropped unparsed.
        `variables`: of VarSet events, the variables it reads (None: all).
        `on_frame`: shown each kept event as it arrives, before it is queued (to watch what the
        PBX sends, not to handle it); it must not raise."""
        self._config = config
        self._on_event = on_event
        self._on_frame = on_frame
        self._on_login = on_login
        self._health = health
        self._metrics = metrics
        self._component = f"pbx:{config.name}"
        self._queue: asyncio.Queue[tuple[AmiMessage, float] | LoginInfo] = asyncio.Queue()
        self._backoff = Backoff(config.reconnect_min, config.reconnect_max)
        self._ids = itertools.count(1)
        self._id_prefix = f"cti-{secrets.token_hex(3)}-"
        self._manager: _Manager | None = None
        self._protocol: AmiProtocol | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._up = asyncio.Event()
        self._booted: AmiMessage | None = None
        self._authenticated = False
        self._auth_failing = False
        self._auth_logged = False
        self._closed = False
        self._connects = 0
        # The first loss not yet announced in a LoginInfo (a connection may drop again before).
        self._lost: float | None = None
        metrics.describe("cti_ami_event_queue_depth", "AMI events received, not yet handled")
        metrics.describe("cti_ami_events_total", "AMI events received")
        metrics.describe("cti_ami_reconnects_total", "AMI connection attempts after a failure")
        metrics.describe("cti_ami_handler_errors_total", "exceptions raised by AMI event handlers")
        metrics.describe(PROTOCOL_ERRORS, "AMI frames dropped: oversized or failed to handle")
        metrics.gauge_fn("cti_ami_event_queue_depth", self._queue.qsize, pbx=config.name)
        self._sieve: EventSieve | None = None
        if events is not None:
            sieve = EventSieve({*events, *_LINK_EVENTS}, variables)
            self._sieve = sieve
            metrics.describe("cti_ami_events_skipped_total", "AMI events dropped unread, unused")
            metrics.gauge_fn("cti_ami_events_skipped_total", lambda: sieve.skipped, pbx=config.name)

    @property
    def connected(self) -> bool:
        return self._protocol is not None and not self._protocol.gone.done()

    @property
    def authenticated(self) -> bool:
        return self._authenticated and self.connected

    @property
    def connects(self) -> int:
        """Successful logins so far, reconnects included."""
        return self._connects

    async def start(self) -> None:
        """Connect in the background and stay connected until close()."""
        if self._closed:
            raise AmiClosed(f"pbx {self._config.name}: the link was closed")
        if self._tasks:
            return
        name = self._config.name
        # panoramisk binds its futures to the loop current at creation (§4.4): build it in the loop.
        self._manager = _Manager(
            self._received,
            loop=asyncio.get_running_loop(),
            host=self._config.host,
            port=self._config.port,
            protocol_factory=functools.partial(AmiProtocol, name, self._metrics, self._sieve),
        )
        self._health.report(self._component, "failed", "connecting")
        self._tasks = [
            asyncio.create_task(self._consume(), name=f"ami-events:{name}"),
            asyncio.create_task(self._run(), name=f"ami-link:{name}"),
        ]

    async def close(self) -> None:
        """Close for good: fail in-flight actions with AmiClosed and never reconnect."""
        if self._closed:
            return
        self._closed = True
        self._up.clear()
        if self._manager is not None:
            self._manager.closing = True
        for task in self._tasks:
            task.cancel()
        if self._protocol is not None:
            self._protocol.fail_pending(lambda: AmiClosed(f"pbx {self._config.name}: link closed"))
        current = asyncio.current_task()
        await asyncio.gather(*(t for t in self._tasks if t is not current), return_exceptions=True)
        # A connect that completed just as the link task was cancelled leaves an adopted transport.
        protocol = self._manager.protocol if self._manager is not None else None
        if protocol is not None and not protocol.gone.done():
            protocol.abort("link closed")
            await asyncio.shield(protocol.gone)
        self._health.report(self._component, "failed", "closed")

    # The per-call timeout parameters below are part of the link's contract with its callers.
    async def wait_connected(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait until logged in; raise AmiAuthFailed, AmiClosed or AmiConnectionLost if not."""
        try:
            async with asyncio.timeout(timeout):
                await self._up.wait()
        except TimeoutError:
            name = self._config.name
            if self._closed:
                raise AmiClosed(f"pbx {name}: the link was closed") from None
            if self._auth_failing:
                raise AmiAuthFailed(f"pbx {name}: authentication failed") from None
            raise AmiConnectionLost(f"pbx {name}: not connected after {timeout:g} s") from None

    async def send(
        self,
        action: Mapping[str, str | list[str]],
        *,
        timeout: float | None = None,  # noqa: ASYNC109
        as_list: bool | None = None,
    ) -> Reply:
        """Send one action and return its reply (a list for list actions) within a deadline."""
        name = self._config.name
        if self._closed:
            raise AmiClosed(f"pbx {name}: the link was closed")
        payload = dict(action)
        verb = payload.get("Action")
        if not isinstance(verb, str) or not verb:
            raise ValueError("an AMI action needs one 'Action' header")
        if verb.lower() == "logoff":
            raise ValueError("Logoff makes panoramisk reconnect (D9); use close()")
        if verb.lower() == "originate":
            # Without Async the ack's handling raises inside data_received (D2); and a list result
            # would hide OriginateResponse from the event stream (D8).
            payload["Async"] = "true"
            as_list = False
        elif verb.lower() == "queueadd":
            as_list = False  # its ack looks like a list start to panoramisk and never resolves (D1)
        protocol = self._protocol
        if protocol is None or not self.authenticated:
            raise AmiConnectionLost(f"pbx {name} is not connected")
        deadline = self._config.action_timeout if timeout is None else timeout
        return await self._call(protocol, payload, deadline, as_list)

    async def _call(
        self,
        protocol: AmiProtocol,
        action: dict[str, str | list[str]],
        deadline: float,
        as_list: bool | None,
    ) -> Reply:
        verb = first(action, "Action")
        if protocol.gone.done():
            raise AmiConnectionLost(f"pbx {self._config.name}: {protocol.lost_reason}")
        action_id = first(action, "ActionID") or f"{self._id_prefix}{next(self._ids)}"
        action["ActionID"] = action_id
        future = protocol.send(action, as_list=as_list)
        try:
            async with asyncio.timeout(deadline):
                reply: Reply = await future
        except TimeoutError:
            raise AmiActionTimeout(f"{verb}: no reply within {deadline:g} s") from None
        finally:
            protocol.forget(action_id)
        head = reply[0] if isinstance(reply, list) else reply
        if not head.success:
            raise AmiActionFailed(verb, first(head.frame, "Message"))
        return reply

    def _received(self, frame: AmiMessage) -> None:
        if first(frame, "Event") == "FullyBooted":
            self._booted = frame
        if self._on_frame is not None:
            self._on_frame(frame)
        self._metrics.inc("cti_ami_events_total", pbx=self._config.name)
        self._queue.put_nowait((frame, time.monotonic()))

    async def _consume(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, LoginInfo):
                    await self._on_login(item)
                else:
                    await self._on_event(*item)
            except Exception:
                what = "login" if isinstance(item, LoginInfo) else first(item[0], "Event")
                self._metrics.inc("cti_ami_handler_errors_total", pbx=self._config.name)
                logger.exception("pbx %s: handler for %s failed", self._config.name, what)
            finally:
                self._queue.task_done()

    async def drain(self, limit: float = 2.0) -> None:
        """Before closing: handle every event the PBX sent before now (at most `limit` seconds).

        AMI is one ordered stream and a session's actions run in order, so once the reply to a
        Ping is in, every event written before it is in the queue: no guess at a quiet period.
        """
        protocol = self._protocol
        try:
            async with asyncio.timeout(limit):
                if protocol is not None and self.authenticated:
                    with contextlib.suppress(AmiActionFailed, AmiConnectionLost):
                        await self._call(protocol, {"Action": "Ping"}, limit, False)
                await self._queue.join()
        except (TimeoutError, AmiActionTimeout):
            logger.warning(
                "pbx %s: %d events still unhandled at shutdown",
                self._config.name,
                self._queue.qsize(),
            )

    async def _run(self) -> None:
        while True:
            try:
                delay = await self._attempt()
            except Exception:
                # A bug here must not end the link for good: report it and go round again.
                logger.exception("pbx %s: connection attempt failed", self._config.name)
                delay = self._down("internal error")
            await asyncio.sleep(delay)
            self._metrics.inc("cti_ami_reconnects_total", pbx=self._config.name)

    async def _attempt(self) -> float:
        """One connection from TCP connect to its loss; returns the delay before the next one."""
        assert self._manager is not None
        self._booted = None
        try:
            async with asyncio.timeout(self._config.action_timeout):
                _, protocol = await self._manager.connect()
        except TimeoutError:
            return self._down("connect timed out")
        except OSError as exc:
            return self._down(f"cannot connect: {exc.strerror or exc}")
        self._protocol = protocol
        # Cleared the moment the connection drops, not when this task next runs.
        protocol.gone.add_done_callback(lambda _: self._up.clear())
        try:
            return await self._serve(protocol)
        finally:
            self._authenticated = False
            self._up.clear()
            if not protocol.gone.done():
                protocol.abort("dropped by the link")
            await asyncio.shield(protocol.gone)
            if protocol.logged_in and self._lost is None:
                self._lost = protocol.lost_moment

    async def _serve(self, protocol: AmiProtocol) -> float:
        config = self._config
        login: dict[str, str | list[str]] = {
            "Action": "Login",
            "Username": config.username,
            "Secret": config.secret.reveal(),
            "Events": config.events,
        }
        try:
            await self._call(protocol, login, config.action_timeout, False)
        except AmiActionFailed as exc:
            if exc.message == "Authentication failed":
                return self._auth_failed()
            return self._down(f"login refused: {exc.message}")
        except AmiActionTimeout:
            return self._down("no reply to Login")
        except AmiConnectionLost:
            return self._down(f"lost before login: {protocol.lost_reason}")
        self._logged_in()
        protocol.logged_in = True
        try:
            await self._announce(protocol)
            return self._down(await self._heartbeat(protocol))
        except AmiActionTimeout as exc:
            protocol.abort(str(exc), silent=True)
            return self._down(str(exc))
        except AmiActionFailed as exc:
            return self._down(str(exc))
        except AmiConnectionLost:
            return self._down(protocol.lost_reason)

    async def _announce(self, protocol: AmiProtocol) -> None:
        """Install the event filters, then queue the login marker behind the events so far."""
        deadline = self._config.action_timeout
        for rule in self._config.event_filter:
            try:
                await self._call(
                    protocol,
                    {"Action": "Filter", "Operation": "Add", "Filter": rule},
                    deadline,
                    False,
                )
            except AmiActionFailed as exc:
                logger.warning(
                    "pbx %s: Filter %r refused: %s", self._config.name, rule, exc.message
                )
        # Asterisk writes FullyBooted inside the Login action and runs a session's actions in order
        # (ground truth §1.3, §1.5): once this Pong is in, a FullyBooted that is coming has come.
        await self._call(protocol, {"Action": "Ping"}, deadline, False)
        booted = self._booted or {}
        self._queue.put_nowait(
            LoginInfo(
                banner=protocol.banner,
                uptime=_number(first(booted, "Uptime")),
                last_reload=_number(first(booted, "LastReload")),
                lost=self._lost,
            )
        )
        self._lost = None

    async def _heartbeat(self, protocol: AmiProtocol) -> str:
        """Ping every ping_interval; returns why the connection ended."""
        config = self._config
        while True:
            done, _ = await asyncio.wait({protocol.gone}, timeout=config.ping_interval)
            if done:
                return protocol.lost_reason
            try:
                await self._call(protocol, {"Action": "Ping"}, config.ping_timeout, False)
            except AmiActionFailed:
                continue  # an error reply still proves the PBX is there
            except AmiActionTimeout:
                protocol.abort(f"no reply to Ping within {config.ping_timeout:g} s", silent=True)
                return protocol.lost_reason

    def _logged_in(self) -> None:
        self._authenticated = True
        self._connects += 1
        self._auth_failing = False
        self._auth_logged = False
        self._backoff.reset()
        self._health.report(self._component, "ok", "connected")
        self._up.set()

    def _down(self, reason: str) -> float:
        self._authenticated = False
        self._up.clear()
        self._health.report(self._component, "failed", f"reconnecting: {reason}")
        delay = self._backoff.next()
        logger.debug("pbx %s: %s; next attempt in %.2f s", self._config.name, reason, delay)
        return delay

    def _auth_failed(self) -> float:
        self._auth_failing = True
        if not self._auth_logged:
            self._auth_logged = True
            logger.error(
                "pbx %s: authentication failed for user %r; retrying every %g s",
                self._config.name,
                self._config.username,
                self._config.auth_retry,
            )
        self._health.report(self._component, "failed", "authentication failed")
        return self._config.auth_retry


def _number(text: str) -> float | None:
    with contextlib.suppress(ValueError):
        return float(text)
    return None
