"""The simulator against the real Asterisk 22 captures, scenario by scenario.

Two ways: run the named scenario (the simulator plays the capture's client itself), and replay the
capture's own actions over TCP at the capture's pace. Both are compared with the capture by
tests.sim.compare: event names and order, field names, units, responses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cti.sim import SimulatorHandle
from tests import amitraces
from tests.sim.client import AmiTestClient
from tests.sim.compare import capture_events, capture_frames, compare, parse, responses
from tests.sim.conftest import Connect, StartSim, rig_config

SCENARIO_CAPTURES = [
    "answered",
    "ringnoanswer",
    "abandon",
    "qtimeout",
    "rna",
    "dump",
    "recorded",
    "callerhangup",
    "withheld",
    "anonymous",
    "amihangup",
    "ringing",
    "userevent",
    "clicktodial",
]
ALL_CAPTURES = [*SCENARIO_CAPTURES, "status", "dynamic", "badlogin", "restart"]


@pytest.fixture(scope="module")
def traces() -> Path:
    return amitraces.TRACES


@pytest.mark.parametrize("name", SCENARIO_CAPTURES)
async def test_scenario_matches_capture(
    name: str, traces: Path, start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim(rig_config(name))
    client = await connect(sim)
    await sim.run_scenario(name)
    await client.sync()
    got = [e for e in (parse(f) for f in client.seen) if e is not None]
    report = compare(capture_events(traces / f"{name}.jsonl"), got)
    assert not report, f"{name}: the simulator differs from the capture\n{report}"


def client_actions(capture: Path) -> list[tuple[float, bytes]]:
    records = [json.loads(line) for line in capture.read_text(encoding="utf-8").splitlines()]
    return [(r["t"], r["frame"].encode("utf-8")) for r in records if r["dir"] == "out"]


async def replay(sim: SimulatorHandle, client: AmiTestClient, capture: Path) -> None:
    """Send the capture's actions at the capture's pace (PBX time), then read to EOF."""
    last = 0.0
    for at, frame in client_actions(capture):
        await sim.clock.sleep(at - last)
        last = at
        if client.closed_by_peer:
            break
        client.write(frame)
    await client.eof()


@pytest.mark.parametrize("name", ALL_CAPTURES)
async def test_replayed_session_matches_capture(
    name: str, traces: Path, start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim(rig_config(name))
    if name == "anonymous":
        # The rig had last rung Alice in support: rrmemory rings Bob first.
        sim.pbx.queues["support"].rr_position = 1
    client = await connect(sim, login=False)
    capture = traces / f"{name}.jsonl"
    await replay(sim, client, capture)
    got = [e for e in (parse(f) for f in client.seen) if e is not None]
    report = compare(capture_events(capture), got)
    assert not report, f"{name}: the simulator differs from the capture\n{report}"
    assert responses(client.seen) == responses(capture_frames(capture))
    assert client.banner == "Asterisk Call Manager/11.0.0"


async def test_scaled_clock_replays_answered_like_the_capture(
    traces: Path, start_sim: StartSim, connect: Connect
) -> None:
    """With a wall clock 100 times faster (not the virtual one) the call still matches."""
    sim = await start_sim(rig_config("answered", time_scale=0.01))
    client = await connect(sim, login=False)
    capture = traces / "answered.jsonl"
    await replay(sim, client, capture)
    got = [e for e in (parse(f) for f in client.seen) if e is not None]
    report = compare(capture_events(capture), got)
    assert not report, report
