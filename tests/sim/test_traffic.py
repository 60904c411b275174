"""The traffic generator: a live-looking floor that keeps the queue rules (virtual clock)."""

from __future__ import annotations

import re

from cti.ami.frames import AmiMessage, first
from cti.sim.config import RIG_QUEUES, SimulatorConfig
from cti.sim.originate import parse_callerid
from tests.sim.client import events
from tests.sim.conftest import Connect, StartSim

WRAPUP = {q.name: q.wrapup for q in RIG_QUEUES}


def rings_broke_the_rules(messages: list[AmiMessage]) -> list[str]:
    """AgentCalled for an agent who was talking, ringing for someone else, in wrap-up or busy."""
    problems = []
    status: dict[str, str] = {}
    talking: set[str] = set()
    ringing: dict[str, str] = {}
    finished: dict[str, float] = {}
    for m in events(messages):
        name, iface = m["Event"], first(m, "Interface")
        now = float(first(m, "Timestamp") or 0)
        if name == "QueueMemberStatus":
            status[iface] = first(m, "Status")
        elif name == "AgentCalled":
            # Wrap-up counts whole seconds (time(NULL) in app_queue).
            since = int(now) - int(finished.get(iface, -1e9))
            if iface in talking or iface in ringing.values() or since < WRAPUP[first(m, "Queue")]:
                problems.append(f"{iface} rung at {now} while talking, ringing or in wrap-up")
            if status.get(iface, "1") not in ("0", "1"):
                problems.append(f"{iface} rung at {now} with device status {status[iface]}")
            ringing[first(m, "DestChannel")] = iface
        elif name == "DialEnd":
            ringing.pop(first(m, "DestChannel"), None)
        elif name == "AgentConnect":
            talking.add(iface)
        elif name == "AgentComplete":
            talking.discard(iface)
            finished[iface] = now
    return problems


async def test_traffic_makes_every_kind_of_call_and_keeps_the_queue_rules(
    start_sim: StartSim, connect: Connect
) -> None:
    config = SimulatorConfig(time_scale=0.0, seed=11, calls_per_minute=8.0)
    sim = await start_sim(config)
    client = await connect(sim)
    sim.start_traffic()
    await sim.clock.sleep(30 * 60)
    await sim.stop_traffic()
    await sim.clock.sleep(10 * 60)
    got = await client.sync()
    names = [m["Event"] for m in events(got)]
    for wanted in (
        "AgentConnect",
        "AgentComplete",
        "QueueCallerAbandon",
        "AgentRingNoAnswer",
        "AgentDump",
        "BridgeEnter",
    ):
        assert wanted in names, f"no {wanted} in {len(names)} events"
    statuses = {first(m, "DialStatus") for m in events(got, "DialEnd")}
    assert {"ANSWER", "BUSY", "NOANSWER", "CANCEL"} <= statuses
    assert any(first(m, "Value") == "TIMEOUT" for m in events(got, "VarSet"))
    outbound = [m for m in events(got, "OriginateResponse") if first(m, "Context") == "outbound"]
    assert outbound
    assert all(first(m, "Reason") == "4" for m in outbound)
    assert {first(m, "Reason") for m in events(got, "AgentComplete")} == {"agent", "caller"}
    assert rings_broke_the_rules(got) == []
    known = {parse_callerid(c)[0] for c in config.caller_numbers} | {"anonymous", "<unknown>"}
    for m in events(got, "QueueCallerJoin"):
        number = first(m, "CallerIDNum")
        assert number in known or re.fullmatch(r"\+1415555\d{4}", number), number
    count = await client.action("Command", Command="core show channels count")
    assert first(count, "Output") == "0 active channels", "every call ended after the traffic"


async def test_stopping_mid_traffic_leaves_nothing_running(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim(time_scale=0.0, seed=5, calls_per_minute=30.0)
    await connect(sim)
    sim.start_traffic()
    await sim.clock.sleep(120)
    assert sim.pbx.channels, "calls are up when the simulator stops"
    await sim.stop()
