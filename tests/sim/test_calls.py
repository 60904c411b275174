"""Calls driven through AMI actions: Originate outcomes, Hangup, Redirect, SIP-like members."""

from __future__ import annotations

import pytest

from cti.ami.frames import AmiMessage, first
from cti.errors import ConfigError
from cti.sim import AgentProfile, InboundRoute, MemberConfig, QueueConfig, SimulatorConfig
from tests.sim.client import AmiTestClient, events
from tests.sim.conftest import Connect, StartSim

INBOUND = {"Channel": "Local/100@inbound", "Context": "caller", "Exten": "s", "Priority": "1"}


def names(messages: list[AmiMessage]) -> list[str]:
    return [first(m, "Event") for m in events(messages)]


async def originate_outcome(client: AmiTestClient, **headers: str) -> list[AmiMessage]:
    """What the session got up to the Originate's OriginateResponse, which comes last."""
    action_id = client.send("Originate", Async="true", **headers)
    return await client.until(
        lambda m: m.get("Event") == "OriginateResponse" and first(m, "ActionID") == action_id
    )


@pytest.mark.parametrize(
    ("channel", "reason"),
    [("Local/agent6@agents", "5"), ("Local/agent3@agents", "3"), ("Dongle/nowhere", "0")],
)
async def test_originate_failures_report_asterisks_reasons(
    channel: str, reason: str, start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    client = await connect(sim)
    got = await originate_outcome(
        client, Channel=channel, Context="outbound", Exten="15551230000", Timeout="2000"
    )
    response = got[-1]
    assert (first(response, "Response"), first(response, "Reason")) == ("Failure", reason)
    assert first(response, "Uniqueid") == "<unknown>"
    assert first(response, "Channel") == channel
    # Asterisk's dialler ends a ring that timed out without a DialEnd (dial.c handle_timeout_trip).
    statuses = [first(m, "DialStatus") for m in events(got, "DialEnd")]
    assert statuses == {"5": ["BUSY"], "3": [], "0": []}[reason]


async def test_originate_to_a_missing_extension_is_refused(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    client = await connect(sim)
    reply = await client.action(
        "Originate", Channel="Local/100@inbound", Context="nowhere", Exten="1"
    )
    assert (first(reply, "Response"), first(reply, "Message")) == (
        "Error",
        "Extension does not exist.",
    )


async def test_sync_originate_holds_the_sessions_events_until_it_answers(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    client = await connect(sim)
    await client.sync()
    action_id = client.send("Originate", **INBOUND, Variable="CALLER_HOLD=5")
    got = await client.until(lambda m: first(m, "ActionID") == action_id and "Response" in m)
    assert first(got[-1], "Message") == "Originate successfully queued"
    assert got[:-1] == [], "no event reaches the session while its action runs"
    later = names(await client.until(lambda m: m.get("Event") == "OriginateResponse"))
    assert later[0] == "Newchannel"
    assert later.count("Newchannel") == 2


async def test_hangup_by_uniqueid_abandons_a_waiting_caller(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim(time_scale=0.01)
    client = await connect(sim)
    await client.action("QueuePause", Interface="Local/agent1@agents/n", Paused="1")
    await client.action("QueuePause", Interface="Local/agent2@agents/n", Paused="1")
    client.send("Originate", **INBOUND, Async="true", Variable="CALLER_HOLD=60")
    joined = (await client.until(lambda m: m.get("Event") == "QueueCallerJoin"))[-1]
    hung = await client.action("Hangup", Channel=first(joined, "Uniqueid"))
    assert first(hung, "Message") == "Channel Hungup"
    after = await client.until(lambda m: m.get("Event") == "QueueCallerLeave")
    abandon = events(after, "QueueCallerAbandon")[0]
    assert (first(abandon, "Position"), first(abandon, "OriginalPosition")) == ("1", "1")
    unknown = await client.action("Hangup", Channel="Local/none@nowhere-00000001;2")
    assert first(unknown, "Message") == "No such channel"


async def test_hangup_by_name_mid_call_completes_with_reason_caller(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim(time_scale=0.01)
    client = await connect(sim)
    client.send(
        "Originate", **INBOUND, Async="true", Variable=["CALLER_HOLD=60", "__AGENT_TALK=60"]
    )
    connected = (await client.until(lambda m: m.get("Event") == "AgentConnect"))[-1]
    await client.action("Hangup", Channel=first(connected, "Channel"), Cause="16")
    complete = (await client.until(lambda m: m.get("Event") == "AgentComplete"))[-1]
    assert first(complete, "Reason") == "caller"
    assert first(complete, "HoldTime") == first(connected, "HoldTime")


async def test_redirect_moves_a_waiting_caller_to_another_queue(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim(time_scale=0.01)
    client = await connect(sim)
    await client.action("QueuePause", Interface="Local/agent1@agents/n", Paused="1")
    await client.action("QueuePause", Interface="Local/agent2@agents/n", Paused="1")
    client.send("Originate", **INBOUND, Async="true", Variable="CALLER_HOLD=60")
    joined = (await client.until(lambda m: m.get("Event") == "QueueCallerJoin"))[-1]
    moved = await client.action(
        "Redirect", Channel=first(joined, "Channel"), Context="inbound", Exten="200", Priority="1"
    )
    assert first(moved, "Message") == "Redirect successful"
    rejoined = (await client.until(lambda m: m.get("Event") == "QueueCallerJoin"))[-1]
    assert (first(rejoined, "Queue"), first(rejoined, "Uniqueid")) == (
        "sales",
        first(joined, "Uniqueid"),
    )
    answered = (await client.until(lambda m: m.get("Event") == "AgentConnect", within=10))[-1]
    assert first(answered, "MemberName") == "Dave"


async def test_agent_complete_may_come_without_channel_blocks(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim(complete_without_channels=1.0)
    client = await connect(sim)
    await sim.run_scenario("answered")
    complete = events(await client.sync(), "AgentComplete")[0]
    assert list(complete)[:3] == ["Event", "Privilege", "Timestamp"]
    assert list(complete)[3:] == [
        "Queue",
        "Interface",
        "MemberName",
        "HoldTime",
        "TalkTime",
        "Reason",
    ]


async def test_sip_members_ring_like_sip_phones(start_sim: StartSim, connect: Connect) -> None:
    """A PJSIP member shows DialState RINGING, device RINGING and member Status 6 (§2.4)."""
    queue = QueueConfig(
        "help", "rrmemory", timeout=10, members=(MemberConfig("PJSIP/1001", "Ann"),)
    )
    config = SimulatorConfig(
        time_scale=0.0,
        queues=(queue,),
        agents=(AgentProfile("PJSIP/1001", "answer", 2, 3),),
        routes=(InboundRoute("400", "queue", "help", 60),),
        traffic_queues=("help",),
    )
    sim = await start_sim(config)
    client = await connect(sim)
    client.send("Originate", **{**INBOUND, "Channel": "Local/400@inbound"}, Async="true")
    got = await client.until(lambda m: m.get("Event") == "AgentComplete", within=10)
    sequence = [n for n in names(got) if n in ("AgentCalled", "DialState", "AgentConnect")]
    assert sequence == ["AgentCalled", "DialState", "AgentConnect"]
    statuses = [first(m, "Status") for m in events(got, "QueueMemberStatus")]
    assert statuses[:2] == ["6", "2"]
    called = events(got, "AgentCalled")[0]
    assert first(called, "DestChannel").startswith("PJSIP/1001-")
    assert {
        first(m, "State")
        for m in events(got, "DeviceStateChange")
        if first(m, "Device") == "PJSIP/1001"
    } >= {"RINGING", "INUSE"}


async def test_direct_calls_ring_the_agent_without_queue_events(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    client = await connect(sim)
    await sim.run_scenario("direct")
    got = await client.sync()
    assert not [n for n in names(got) if n.startswith(("Agent", "QueueCaller"))]
    dials = [first(m, "DestChannel") for m in events(got, "DialBegin") if "Channel" in m]
    assert dials
    assert dials[0].startswith("Local/agent1@agents-")
    assert [first(m, "Status") for m in events(got, "QueueMemberStatus")] == ["2", "1"]


def test_config_errors_name_the_key() -> None:
    with pytest.raises(ConfigError, match=r"sim\.routes\[0\]\.target"):
        SimulatorConfig(routes=(InboundRoute("1", "queue", "nope"),))
    with pytest.raises(ConfigError, match="time_scale"):
        SimulatorConfig(time_scale=-1)
