"""AmiLink against the scripted fake AMI over real TCP: order, framing, deadlines, reconnects."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import pytest

from cti.ami.errors import (
    AmiActionFailed,
    AmiActionTimeout,
    AmiAuthFailed,
    AmiClosed,
    AmiConnectionLost,
    UnsafeValue,
)
from cti.ami.frames import AmiMessage, first
from cti.ami.link import AmiLink, LoginInfo, Reply
from cti.ami.protocol import FrameMessage
from cti.config import PbxConfig, Secret
from cti.health import ComponentHealth, HealthRegistry
from cti.metrics import Metrics
from tests.ami.fake_ami import Action, FakeAmi, Session, encode, eventually

PBX = "main"
COMPONENT = f"pbx:{PBX}"


class Sink:
    """Collects what the link hands on: events and login markers, in one ordered list."""

    def __init__(self, *, fail_on: str = "", delay: float = 0.0) -> None:
        self.items: list[AmiMessage | LoginInfo] = []
        self.stamps: list[float] = []
        self.login_times: list[float] = []
        self._fail_on = fail_on
        self._delay = delay

    async def on_event(self, message: AmiMessage, received: float) -> None:
        if first(message, "Event") == self._fail_on:
            raise RuntimeError("a bug in an event handler")
        if self._delay:
            await asyncio.sleep(self._delay)
        self.items.append(message)
        self.stamps.append(received)

    async def on_login(self, info: LoginInfo) -> None:
        self.items.append(info)
        self.login_times.append(time.monotonic())

    def named(self, event: str) -> list[AmiMessage]:
        return [i for i in self.items if not isinstance(i, LoginInfo) and i.get("Event") == event]

    @property
    def logins(self) -> list[LoginInfo]:
        return [i for i in self.items if isinstance(i, LoginInfo)]


@dataclass
class Harness:
    server: FakeAmi
    health: HealthRegistry = field(default_factory=HealthRegistry)
    metrics: Metrics = field(default_factory=Metrics)
    links: list[AmiLink] = field(default_factory=list)

    async def link(
        self,
        sink: Sink | None = None,
        *,
        on_login: Callable[[LoginInfo], Awaitable[None]] | None = None,
        secret: str = "secret",
        events: set[str] | None = None,
        variables: set[str] | None = None,
        **settings: Any,
    ) -> tuple[AmiLink, Sink]:
        sink = sink or Sink()
        defaults: dict[str, Any] = {
            "ping_interval": 5.0,
            "ping_timeout": 1.0,
            "action_timeout": 1.0,
            "reconnect_min": 0.01,
            "reconnect_max": 0.1,
            "auth_retry": 0.3,
        }
        config = PbxConfig(
            name=PBX,
            port=self.server.port,
            username="cti",
            secret=Secret(secret),
            **(defaults | settings),
        )
        link = AmiLink(
            config,
            on_event=sink.on_event,
            on_login=on_login or sink.on_login,
            health=self.health,
            metrics=self.metrics,
            events=events,
            variables=variables,
        )
        self.links.append(link)
        await link.start()
        return link, sink

    def status(self) -> ComponentHealth | None:
        return self.health.get(COMPONENT)


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    yield
    current = asyncio.current_task()
    assert [t for t in asyncio.all_tasks() if t is not current and not t.done()] == []


@pytest.fixture
async def ami() -> AsyncIterator[Harness]:
    server = FakeAmi(auth_delay=0.05)
    await server.start()
    harness = Harness(server)
    yield harness
    for link in harness.links:
        await link.close()
    await server.close()


async def never_answer(session: Session, action: Action) -> None:
    """A responder for an action the PBX sits on."""


def single(reply: Reply) -> FrameMessage:
    assert not isinstance(reply, list)
    return reply


async def test_events_arrive_in_order_after_fully_booted_and_the_login_marker(
    ami: Harness,
) -> None:
    link, sink = await ami.link()
    await eventually(lambda: bool(sink.logins))
    assert (link.connected, link.authenticated, link.connects) == (True, True, 1)
    assert ami.status() == ComponentHealth("ok", "connected")

    for seq in range(200):
        await ami.server.push_event({"Event": "UserEvent", "Seq": str(seq)})
    await eventually(lambda: len(sink.named("UserEvent")) == 200)

    assert [first(e, "Seq") for e in sink.named("UserEvent")] == [str(s) for s in range(200)]
    assert first(sink.named("FullyBooted")[0], "Uptime") == "3600"
    assert sink.items.index(sink.named("FullyBooted")[0]) == 0
    assert sink.items[1] == LoginInfo("Asterisk Call Manager/11.0.0", 3600.0, 3600.0)
    assert sink.stamps == sorted(sink.stamps)
    assert ami.metrics.value("cti_ami_events_total", pbx=PBX) == 201


async def test_a_link_told_its_events_drops_the_others_unparsed_and_counts_them(
    ami: Harness,
) -> None:
    link, sink = await ami.link(events={"UserEvent", "VarSet"}, variables={"QUEUESTATUS"})
    await eventually(lambda: bool(sink.logins))
    await ami.server.push(
        encode({"Event": "Newexten", "Application": "Queue"})
        + encode({"Event": "UserEvent", "Seq": "1"})
        + encode({"Event": "VarSet", "Variable": "BRIDGEPEER", "Value": "x"})
        + encode({"Event": "VarSet", "Variable": "QUEUESTATUS", "Value": "TIMEOUT"})
        + encode({"Event": "DeviceStateChange", "State": "INUSE"})
        + encode({"Event": "UserEvent", "Seq": "2"})
    )
    await eventually(lambda: len(sink.named("UserEvent")) == 2)
    names = [i.get("Event") for i in sink.items if not isinstance(i, LoginInfo)]
    assert names == ["FullyBooted", "UserEvent", "VarSet", "UserEvent"]
    assert ami.metrics.value("cti_ami_events_skipped_total", pbx=PBX) == 3
    # Replies to actions pass whatever their name: a list's items are events too.
    reply = await link.send({"Action": "QueueStatus"}, as_list=True)
    assert [first(item.frame, "Event") for item in reply[1:]] == [
        "QueueParams",
        "QueueMember",
        "QueueStatusComplete",
    ]


async def test_utf8_name_split_byte_by_byte_arrives_whole(ami: Harness) -> None:
    _, sink = await ami.link()
    await eventually(lambda: bool(sink.logins))
    frame = encode({"Event": "Newchannel", "CallerIDName": "王先生", "Uniqueid": "1.1"})
    for byte in frame:
        await ami.server.push(bytes([byte]))
        await asyncio.sleep(0.001)  # one TCP read per byte
    await eventually(lambda: bool(sink.named("Newchannel")))
    assert sink.named("Newchannel")[0]["CallerIDName"] == "王先生"


async def test_empty_trailing_header_and_repeated_headers_are_kept(ami: Harness) -> None:
    _, sink = await ami.link()
    await eventually(lambda: bool(sink.logins))
    await ami.server.push(
        b"Event: Cdr\r\nUniqueID: 1.2\r\nChanVariable: A=1\r\nChanVariable: B=\r\n"
        b"UserField: \r\n\r\n"
    )
    await eventually(lambda: bool(sink.named("Cdr")))
    assert sink.named("Cdr")[0] == {
        "Event": "Cdr",
        "UniqueID": "1.2",
        "ChanVariable": ["A=1", "B="],
        "UserField": "",
    }


async def test_handler_exception_is_logged_and_the_next_event_still_handled(
    ami: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    link, sink = await ami.link(Sink(fail_on="Boom"))
    await eventually(lambda: bool(sink.logins))
    await ami.server.push_event({"Event": "Boom"})
    await ami.server.push_event({"Event": "After"})
    await eventually(lambda: bool(sink.named("After")))
    assert link.authenticated
    assert len(ami.server.connections) == 1
    assert ami.metrics.value("cti_ami_handler_errors_total", pbx=PBX) == 1
    [record] = [r for r in caplog.records if "handler for Boom failed" in r.getMessage()]
    assert record.exc_info is not None


async def test_slow_handler_keeps_order_while_the_queue_fills_and_drains(ami: Harness) -> None:
    _, sink = await ami.link(Sink(delay=0.005))
    await eventually(lambda: bool(sink.logins))

    def depth() -> float:
        return ami.metrics.value("cti_ami_event_queue_depth", pbx=PBX)

    burst = b"".join(encode({"Event": "UserEvent", "Seq": str(s)}) for s in range(40))
    await ami.server.push(burst)
    await eventually(lambda: depth() >= 10)
    await eventually(lambda: len(sink.named("UserEvent")) == 40)
    assert depth() == 0
    assert [first(e, "Seq") for e in sink.named("UserEvent")] == [str(s) for s in range(40)]


async def test_action_without_reply_times_out_and_the_link_stays_up(ami: Harness) -> None:
    link, _ = await ami.link()
    await link.wait_connected(2)
    ami.server.responders["hold"] = never_answer
    started = time.monotonic()
    with pytest.raises(AmiActionTimeout, match="no reply within 0.1 s"):
        await link.send({"Action": "Hold"}, timeout=0.1)
    assert 0.1 <= time.monotonic() - started < 0.5
    assert link.authenticated
    assert single(await link.send({"Action": "Ping"}))["Ping"] == "Pong"


async def test_in_flight_action_fails_at_once_when_the_server_drops(ami: Harness) -> None:
    link, _ = await ami.link()
    await link.wait_connected(2)
    ami.server.responders["hold"] = never_answer
    pending = asyncio.create_task(link.send({"Action": "Hold"}, timeout=5))
    await eventually(lambda: bool(ami.server.received("Hold")))
    dropped = time.monotonic()
    ami.server.drop()
    with pytest.raises(AmiConnectionLost):
        await pending
    assert time.monotonic() - dropped < 0.5
    with pytest.raises(AmiConnectionLost):
        await link.send({"Action": "Ping"})
    await eventually(lambda: link.connects == 2)


async def test_silent_peer_is_reconnected_within_two_heartbeats(ami: Harness) -> None:
    interval = 0.25
    link, sink = await ami.link(ping_interval=interval, ping_timeout=0.1, action_timeout=0.3)
    await eventually(lambda: bool(sink.logins))
    silent_since = time.monotonic()
    ami.server.silent = True
    await eventually(lambda: len(ami.server.connections) == 2)
    assert ami.server.connections[1] - silent_since <= 2 * interval
    assert ami.status() == ComponentHealth("failed", "reconnecting: no reply to Ping within 0.1 s")
    ami.server.silent = False
    await eventually(lambda: link.connects == 2)


async def test_backoff_doubles_with_jitter_up_to_the_cap(ami: Harness) -> None:
    ami.server.hang_up_on_accept = True
    low, cap = 0.02, 0.16
    await ami.link(reconnect_min=low, reconnect_max=cap)
    await eventually(lambda: len(ami.server.connections) >= 9, within=3)
    gaps = [b - a for a, b in pairwise(ami.server.connections[:9])]
    bases = [min(cap, low * 2**step) for step in range(len(gaps))]
    for gap, base in zip(gaps, bases, strict=True):
        assert 0.75 * base <= gap <= base + 0.1, (gaps, bases)
    capped = gaps[3:]
    assert max(capped) <= cap + 0.1
    assert len({round(gap, 4) for gap in capped}) > 1, "no jitter"
    assert ami.metrics.value("cti_ami_reconnects_total", pbx=PBX) >= 8


async def test_wrong_secret_fails_health_once_and_retries_at_auth_retry_pace(
    ami: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    link, _ = await ami.link(secret="wrong-secret", auth_retry=0.3)
    await eventually(lambda: len(ami.server.login_attempts) >= 3, within=3)

    assert ami.status() == ComponentHealth("failed", "authentication failed")
    for gap in (b - a for a, b in pairwise(ami.server.login_attempts)):
        assert 0.3 + ami.server.auth_delay <= gap < 0.3 + ami.server.auth_delay + 0.2
    said = [r for r in caplog.records if "authentication failed" in r.getMessage()]
    assert [r.name for r in said] == ["cti.ami.link", "cti.health"]
    with pytest.raises(AmiAuthFailed):
        await link.wait_connected(0.05)

    ami.server.secret = "wrong-secret"  # the PBX side is put right
    await link.wait_connected(2)
    assert ami.status() == ComponentHealth("ok", "connected")
    assert "wrong-secret" not in caplog.text


async def test_close_is_final_and_fails_in_flight_actions(ami: Harness) -> None:
    link, _ = await ami.link()
    await link.wait_connected(2)
    with pytest.raises(ValueError, match="use close"):
        await link.send({"Action": "Logoff"})
    ami.server.responders["hold"] = never_answer
    pending = asyncio.create_task(link.send({"Action": "Hold"}, timeout=5))
    await eventually(lambda: bool(ami.server.received("Hold")))

    await link.close()
    with pytest.raises(AmiClosed):
        await pending
    assert not link.connected
    await asyncio.sleep(0.3)  # three times reconnect_max: a reconnect would have happened
    assert len(ami.server.connections) == 1
    assert [a["Action"] for a in ami.server.actions].count("Logoff") == 0
    with pytest.raises(AmiClosed):
        await link.send({"Action": "Ping"})
    with pytest.raises(AmiClosed):
        await link.start()
    assert ami.status() == ComponentHealth("failed", "closed")


async def test_drain_handles_every_event_written_before_the_pbx_answers_its_ping(
    ami: Harness,
) -> None:
    link, sink = await ami.link(Sink(delay=0.01))
    await eventually(lambda: bool(sink.logins))

    async def events_trickle_in_before_pong(session: Session, action: Action) -> None:
        # Events already on their way when the service stops, with gaps longer than any
        # "quiet period" a drain could wait for.
        for seq in range(3):
            session.write({"Event": "UserEvent", "Seq": str(seq)})
            await session.writer.drain()
            await asyncio.sleep(0.3)
        session.write([("Response", "Success"), ("ActionID", action["ActionID"]), ("Ping", "Pong")])

    burst = b"".join(encode({"Event": "Burst", "Seq": str(s)}) for s in range(30))
    await ami.server.push(burst)
    ami.server.responders["ping"] = events_trickle_in_before_pong
    await link.drain(limit=5.0)
    assert len(sink.named("Burst")) == 30
    assert [first(e, "Seq") for e in sink.named("UserEvent")] == ["0", "1", "2"]


async def test_drain_gives_up_at_its_limit_when_the_pbx_does_not_answer(
    ami: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    link, sink = await ami.link()
    await eventually(lambda: bool(sink.logins))
    ami.server.responders["ping"] = never_answer
    started = time.monotonic()
    await link.drain(limit=0.3)
    assert 0.3 <= time.monotonic() - started < 1.0
    assert any("unhandled at shutdown" in r.getMessage() for r in caplog.records)


async def test_close_during_the_backoff_window_prevents_the_reconnect(ami: Harness) -> None:
    ami.server.hang_up_on_accept = True
    link, _ = await ami.link(reconnect_min=0.3, reconnect_max=0.3)
    await eventually(lambda: (ami.status() or ComponentHealth("ok")).reason.startswith("reconn"))
    await link.close()
    await asyncio.sleep(0.4)  # past the back-off that was pending
    assert len(ami.server.connections) == 1


async def test_cr_or_lf_in_a_value_is_refused_and_nothing_is_written(ami: Harness) -> None:
    link, sink = await ami.link()
    await eventually(lambda: bool(sink.logins))
    before = len(ami.server.actions)
    unsafe: list[dict[str, str | list[str]]] = [
        {"Action": "Originate", "Channel": "Local/1@x", "CallerID": '"Eve" <1>\r\nAction: Hangup'},
        {"Action": "Setvar", "Variable": "NAME", "Value": "line\nbreak"},
        {"Action": "Setvar", "Variable": ["OK=1", "BAD=\0"]},
        {"Action": "UserEvent", "Bad\r\nKey": "v"},
    ]
    for action in unsafe:
        with pytest.raises(UnsafeValue):
            await link.send(action)
    await link.send({"Action": "Ping"})
    assert [a["Action"] for a in ami.server.actions[before:]] == ["Ping"]
    assert link.authenticated


async def test_queueadd_originate_and_list_actions_resolve(ami: Harness) -> None:
    link, sink = await ami.link()
    await link.wait_connected(2)

    added = await link.send({"Action": "QueueAdd", "Queue": "support", "Interface": "Local/4@a/n"})
    assert single(added)["Message"] == "Added interface to queue"

    originate = {"Action": "Originate", "ActionID": "cti-dial-1", "Channel": "Local/1@agents"}
    queued = single(await link.send(originate, as_list=True))
    assert queued["Message"] == "Originate successfully queued"
    assert ami.server.received("Originate")[0]["Async"] == "true"
    await eventually(lambda: bool(sink.named("OriginateResponse")))
    assert first(sink.named("OriginateResponse")[0], "ActionID") == "cti-dial-1"

    status = await link.send({"Action": "QueueStatus"})
    assert isinstance(status, list)
    assert [first(m.frame, "Event") for m in status[1:]] == [
        "QueueParams",
        "QueueMember",
        "QueueStatusComplete",
    ]
    with pytest.raises(AmiActionFailed, match="Invalid/unknown command: Bogus"):
        await link.send({"Action": "Bogus"})


async def test_filters_are_installed_after_every_login_before_on_login(ami: Harness) -> None:
    filters_at_login: list[int] = []

    async def on_login(info: LoginInfo) -> None:
        filters_at_login.append(len(ami.server.received("Filter")))

    rules = ["Event: Hangup", "!Event: Newexten"]
    link, _ = await ami.link(on_login=on_login, event_filter=rules)
    await eventually(lambda: filters_at_login == [2])
    assert [a["Action"] for a in ami.server.actions[:3]] == ["Login", "Filter", "Filter"]
    assert [(f["Operation"], f["Filter"]) for f in ami.server.received("Filter")] == [
        ("Add", rules[0]),
        ("Add", rules[1]),
    ]
    ami.server.drop()
    await eventually(lambda: filters_at_login == [2, 4])
    assert link.connects == 2


def _garbage(rng: random.Random, index: int) -> bytes:
    kind = index % 6
    if kind == 0:
        return b"a line without a colon\r\nand another\r\n\r\n"
    if kind == 1:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 120))) + b"\r\n\r\n"
    if kind == 2:
        return b"Event: Truncated\r\nUniqueid: 17\r\nCal"  # runs into the next frame
    if kind == 3:
        return b"Event: Twice\r\nEvent: Again\r\n\r\n"  # a list where panoramisk wants a str
    if kind == 4:
        return b"Response: Success\r\nActionID: nobody-asked\r\nMessage: late\r\n\r\n"
    size = 200_000 if index % 1000 == 5 else 2_000
    return b"Event: Bulky\r\nData: " + b"x" * size + b"\r\n\r\n"


async def test_garbage_frames_do_not_crash_the_link(ami: Harness) -> None:
    link, sink = await ami.link()
    await eventually(lambda: bool(sink.logins))
    rng = random.Random(20261129)
    stream = b"".join(_garbage(rng, i) for i in range(10_000))
    oversized = b"Event: Giant\r\nData: " + b"y" * (3 << 19) + b"\r\n\r\n"
    await ami.server.push(stream[: len(stream) // 2] + oversized + stream[len(stream) // 2 :])
    await ami.server.push_event({"Event": "Marker"})

    await eventually(lambda: bool(sink.named("Marker")), within=10)
    assert link.authenticated
    assert len(ami.server.connections) == 1
    assert single(await link.send({"Action": "Ping"}))["Ping"] == "Pong"
    errors = "cti_ami_protocol_errors_total"
    assert ami.metrics.value(errors, pbx=PBX, kind="oversized") >= 1


async def test_server_flapping_twenty_times_leaves_one_connected_link(ami: Harness) -> None:
    link, sink = await ami.link()

    def accepted(count: int) -> Callable[[], bool]:
        return lambda: len(ami.server.connections) == count

    for flap in range(20):
        await eventually(accepted(flap + 1))
        if flap % 2:  # every other drop lands after the login, the rest during it
            await eventually(lambda: link.authenticated)
        ami.server.drop()
    await eventually(lambda: len(ami.server.connections) == 21)
    await link.wait_connected(2)
    assert ami.status() == ComponentHealth("ok", "connected")
    # A drop between Login and the Filter/Ping that follow it leaves that login without a marker.
    assert link.connects >= 11
    await eventually(lambda: sink.login_times[-1:] > ami.server.logins[-1:])
    assert len(sink.logins) <= link.connects

    await link.close()
    assert [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("ami-")] == []
