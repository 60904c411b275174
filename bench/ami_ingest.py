"""AMI ingest throughput: the real captures' events replayed over loopback TCP as fast as possible.

(a) our framing and parsing alone (FrameSplitter + parse_frame in an asyncio Protocol)
(b) our whole pipeline: AmiLink -> sieve -> translator -> call/queue state model -> bus
(u) the same pipeline unsieved: every event parsed and handed to the feed, as panoramisk does
(c) panoramisk 1.4's bare Manager with a no-op '*' handler
(d) a minimal raw asyncio split-and-dict parser
(e) peak RSS of a process of its own tracking 10,000 concurrent calls in the state model

(b) and (u) against (c) are measured in the same run: the sieve's gain is (b) over (u).
Targets: (a) >= 0.8 x (d); (b) >= 1.0 x (c); (e) < 100 MB.
Usage: python bench/ami_ingest.py [--events N] [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panoramisk import Manager

from cti.ami.feed import PbxFeed
from cti.ami.frames import AmiMessage, FrameSplitter, first, parse_frame
from cti.bus import EventBus
from cti.config import PbxConfig, Secret
from cti.health import HealthRegistry
from cti.metrics import Metrics

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import amitraces  # noqa: E402

_ID = re.compile(rb"(\d{10}\.\d+)")
# The link's count of the frames its sieve dropped unread.
SKIPPED = "cti_ami_events_skipped_total"
STALL = 10.0


def corpus(events: int) -> tuple[bytes, int]:
    """Broadcast event frames of every capture, repeated with fresh ids, about `events` of them."""
    frames: list[bytes] = []
    for name in amitraces.names():
        splitter = FrameSplitter()
        for frame in amitraces.load(name):
            if frame.incoming:
                for raw in splitter.feed(frame.frame):
                    message = parse_frame(raw)
                    if "Event" in message and "ActionID" not in message:
                        frames.append(raw + b"\r\n\r\n")
    out = bytearray()
    count = 0
    round_ = 0
    while count < events:
        suffix = b"\\1r%d" % round_
        for raw in frames:
            out += _ID.sub(suffix, raw)
        count += len(frames)
        round_ += 1
    return bytes(out), count


class BlastServer:
    """Banner, Login accepted, list actions answered on an idle rig, then the corpus at once."""

    def __init__(self, data: bytes, after: str) -> None:
        self._data = data
        # A resyncing client gets the events after its CoreShowChannels, as a real PBX would
        # list the calls the events are about.
        self._after = after
        self._server: asyncio.Server | None = None
        self._members = amitraces.rig_queues()[1]
        self._sessions: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        # A session still reading when the loop ends would be cancelled and logged as an error.
        for task in self._sessions:
            task.cancel()
        await asyncio.gather(*self._sessions, return_exceptions=True)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await self._serve(reader, writer)
        finally:
            self._sessions.discard(task)
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/11.0.0\r\n")
        splitter = FrameSplitter()
        while data := await reader.read(65536):
            for raw in splitter.feed(data):
                action = parse_frame(raw)
                verb, action_id = first(action, "Action").lower(), first(action, "ActionID")
                head = f"Response: Success\r\nActionID: {action_id}\r\n"
                if verb == "login":
                    writer.write(
                        f"{head}Message: Authentication accepted\r\n\r\nEvent: FullyBooted\r\n"
                        "Privilege: system,all\r\nUptime: 100\r\nLastReload: 100\r\n"
                        "Status: Fully Booted\r\n\r\n".encode()
                    )
                elif verb == "queuestatus":
                    writer.write(amitraces.queue_status_reply(action_id, self._members))
                elif verb == "coreshowchannels":
                    writer.write(
                        f"{head}EventList: start\r\n\r\nEvent: CoreShowChannelsComplete\r\n"
                        f"ActionID: {action_id}\r\nEventList: Complete\r\n"
                        "ListItems: 0\r\n\r\n".encode()
                    )
                else:
                    writer.write(f"{head}Ping: Pong\r\n\r\n".encode())
                if verb == self._after:
                    writer.write(self._data)
                await writer.drain()


class Counting(asyncio.Protocol):
    """A client that logs in and counts event frames with the given parser."""

    def __init__(self, parse: Callable[[bytes], int], expected: int) -> None:
        self._parse = parse
        self._expected = expected
        self.count = 0
        self.done = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(b"Action: Login\r\nActionID: 1\r\nUsername: cti\r\nSecret: s\r\n\r\n")

    def data_received(self, data: bytes) -> None:
        self.count += self._parse(data)
        if self.count >= self._expected and not self.done.done():
            self.done.set_result(None)


def ours() -> Callable[[bytes], int]:
    splitter = FrameSplitter()

    def parse(data: bytes) -> int:
        return sum(1 for raw in splitter.feed(data) if "Event" in parse_frame(raw))

    return parse


def raw_parser() -> Callable[[bytes], int]:
    buffer = bytearray()

    def parse(data: bytes) -> int:
        buffer.extend(data)
        *frames, rest = bytes(buffer).split(b"\r\n\r\n")
        buffer[:] = rest
        count = 0
        for frame in frames:
            message: dict[str, str] = {}
            for line in frame.decode("utf-8", "replace").split("\r\n"):
                key, _, value = line.partition(": ")
                message[key] = value
            count += "Event" in message
        return count

    return parse


async def run_counting(port: int, parse: Callable[[bytes], int], expected: int) -> float:
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    transport, protocol = await loop.create_connection(
        lambda: Counting(parse, expected), "127.0.0.1", port
    )
    await protocol.done
    elapsed = time.perf_counter() - started
    transport.close()
    return protocol.count / elapsed


async def run_panoramisk(port: int, expected: int) -> float:
    count = 0
    done = asyncio.get_running_loop().create_future()

    def noop(manager: Any, event: Any) -> None:
        nonlocal count
        count += 1
        if count >= expected and not done.done():
            done.set_result(None)

    manager = Manager(
        loop=asyncio.get_running_loop(),
        host="127.0.0.1",
        port=port,
        username="cti",
        secret="s",
        ping_delay=10**9,
        ping_interval=10**9,
    )
    manager.register_event("*", noop)
    started = time.perf_counter()
    await manager.connect()
    await done
    elapsed = time.perf_counter() - started
    manager.close()
    return count / elapsed


class CountingFeed(PbxFeed):
    """The real feed, counting the events it handles."""

    handled = 0

    async def _on_event(self, message: AmiMessage, received: float) -> None:
        await super()._on_event(message, received)
        self.handled += 1


@dataclass(frozen=True, slots=True)
class PipelineRun:
    rate: float
    skipped: int
    published: int
    open_calls: int


async def run_pipeline(port: int, frames: int, *, sieve: bool) -> PipelineRun:
    """The whole pipeline through the replay; `frames` counts the FullyBooted after the login."""
    metrics = Metrics()
    bus = EventBus(metrics)
    published = 0

    async def consume(event: object) -> None:
        nonlocal published
        published += 1

    bus.subscribe("bench", consume)
    await bus.start()
    config = PbxConfig(name="bench", port=port, secret=Secret("s"), ping_interval=10**6)
    feed = CountingFeed(config, bus=bus, health=HealthRegistry(), metrics=metrics, sieve=sieve)

    def skipped() -> int:
        return int(metrics.value(SKIPPED, pbx=config.name))

    started = time.perf_counter()
    await feed.start()
    await consumed(lambda: feed.handled + skipped(), frames)
    await bus.drain()
    elapsed = time.perf_counter() - started
    await feed.close()
    await bus.stop()
    return PipelineRun(frames / elapsed, skipped(), published, len(feed.state.calls))


async def consumed(count: Callable[[], int], frames: int) -> None:
    """Wait until `count()` reaches `frames`; fail if it stops moving for STALL seconds.

    A frame the sieve drops runs none of the feed's code, so no callback could tell that the last
    one has gone by: the count is polled, every 2 ms (a fraction of a percent of a run).
    """
    seen, moved = count(), time.perf_counter()
    while seen < frames:
        await asyncio.sleep(0.002)
        if (now := count()) != seen:
            seen, moved = now, time.perf_counter()
        elif time.perf_counter() - moved > STALL:
            raise SystemExit(f"the pipeline stopped at {seen} of {frames} frames")


# The calls are built in a process of their own that imports only the state model, and it reads
# its own peak from VmHWM: getrusage's ru_maxrss would hold this process's peak, which a child
# inherits across exec.
CALLS_CHILD = """
import os
import sys
from datetime import UTC, datetime

from cti.core import observations as obs
from cti.core.pbx_state import PbxState

sys.path.insert(0, sys.argv[2])
from procfs import peak_rss_mb

calls = int(sys.argv[1])
before = peak_rss_mb(os.getpid())
state = PbxState("p", {})
at = datetime(2026, 1, 1, tzinfo=UTC)
for i in range(calls):
    ch = obs.ChannelInfo(f"1795389572.{i}", f"1795389572.{i}", f"PJSIP/trunk-{i:08x}",
                         "PJSIP/trunk", 6, f"+1415555{i % 10000:04d}", f"Caller {i}")
    state.apply(obs.ChannelSeen("p", at, ch))
    state.apply(obs.CallerJoined("p", at, f"q{i % 20}", ch, 1))
    state.apply(obs.AgentRung("p", at, f"q{i % 20}", ch, f"PJSIP/{1000 + i % 500}", "A", ""))
assert len(state.calls) == calls
print(before, peak_rss_mb(os.getpid()))
"""


def rss_with_calls(calls: int) -> tuple[float, float]:
    """Peak RSS (MB) of a child process before its first call and once it holds `calls`."""
    out = subprocess.run(
        [sys.executable, "-c", CALLS_CHILD, str(calls), str(Path(__file__).resolve().parent)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    before, peak = out.split()
    return float(before), float(peak)


async def main(events: int, calls: int) -> None:
    data, count = corpus(events)
    print(f"corpus: {count} real event frames, {len(data) / 1e6:.1f} MB")
    plain, resyncing = BlastServer(data, "login"), BlastServer(data, "coreshowchannels")
    port = await plain.start()
    resync_port = await resyncing.start()
    rates: dict[str, float] = {}
    rates["a"] = await run_counting(port, ours(), count)
    rates["d"] = await run_counting(port, raw_parser(), count)
    rates["c"] = await run_panoramisk(port, count)
    # +1: the FullyBooted that follows the login is an event too.
    sieved = await run_pipeline(resync_port, count + 1, sieve=True)
    unsieved = await run_pipeline(resync_port, count + 1, sieve=False)
    rates["b"], rates["u"] = sieved.rate, unsieved.rate
    await plain.close()
    await resyncing.close()
    for label, run in (("sieved", sieved), ("unsieved", unsieved)):
        print(
            f"    {label} pipeline: {run.skipped} frames dropped unparsed, {run.published} "
            f"domain events published, {run.open_calls} calls open"
        )
    labels = {
        "a": "our framing + parsing",
        "b": "our whole pipeline",
        "u": "our pipeline, unsieved",
        "c": "panoramisk bare Manager",
        "d": "raw split-and-dict",
    }
    for key in "abucd":
        print(f"({key}) {labels[key]:<26} {rates[key]:>10,.0f} events/s")
    before, peak = rss_with_calls(calls)
    print(
        f"(e) {calls:,} concurrent calls tracked: peak RSS {peak:.1f} MB "
        f"({before:.1f} MB before the first call)"
    )
    ratios = {
        "pipeline_vs_panoramisk": rates["b"] / rates["c"],
        "unsieved_vs_panoramisk": rates["u"] / rates["c"],
        "sieve_gain": rates["b"] / rates["u"],
        "parse_vs_raw": rates["a"] / rates["d"],
    }
    print("ratios: " + ", ".join(f"{k} = {v:.2f}" for k, v in ratios.items()))
    print(
        "RESULT "
        + " ".join(f"{k}={v:.2f}" for k, v in ratios.items())
        + f" skipped_share={sieved.skipped / (count + 1):.2f} calls={calls}"
        f" calls_peak_rss_mb={peak:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=10_000, help="calls tracked for (e)")
    options = parser.parse_args()
    asyncio.run(main(options.events, options.calls))
