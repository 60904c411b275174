"""The AMI protocol as Asterisk 22 speaks it: banner, login, permissions, lists, responses."""

from __future__ import annotations

import asyncio
import hashlib

from cti.ami.frames import AmiMessage, every, first
from cti.sim.wire import BANNER
from tests.sim.client import events
from tests.sim.conftest import Connect, StartSim


def headers(message: AmiMessage) -> list[str]:
    return list(message)


async def test_banner_is_one_line_with_no_blank_line_after_it(start_sim: StartSim) -> None:
    sim = await start_sim()
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    try:
        assert await reader.readexactly(len(BANNER)) == b"Asterisk Call Manager/11.0.0\r\n"
        writer.write(b"Action: Login\r\nUsername: cti\r\nSecret: ctisecret\r\n\r\n")
        assert await reader.readuntil(b"\r\n\r\n") == (
            b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
        )
    finally:
        writer.close()


async def test_bad_secret_waits_a_second_answers_then_closes(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim(time_scale=0.05)
    client = await connect(sim, login=False)
    started = asyncio.get_running_loop().time()
    reply = await client.login(secret="wrong")
    waited = asyncio.get_running_loop().time() - started
    assert first(reply, "Response") == "Error"
    assert first(reply, "Message") == "Authentication failed"
    assert waited >= 0.045, "one PBX second at scale 0.05"
    assert await client.eof() == []


async def test_only_login_logoff_and_challenge_before_login(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    client = await connect(sim, login=False)
    denied = await client.action("Ping")
    assert (first(denied, "Response"), first(denied, "Message")) == ("Error", "Permission denied")
    challenge = await client.action("Challenge", AuthType="MD5")
    key = hashlib.md5((first(challenge, "Challenge") + "ctisecret").encode()).hexdigest()  # noqa: S324
    accepted = await client.action("Login", Username="cti", AuthType="MD5", Key=key)
    assert first(accepted, "Message") == "Authentication accepted"
    booted = await client.until(lambda m: m.get("Event") == "FullyBooted")
    assert headers(booted[-1]) == ["Event", "Privilege", "Uptime", "LastReload", "Status"]
    pong = await client.action("Ping")
    assert first(pong, "Ping") == "Pong"
    assert headers(pong) == ["Response", "ActionID", "Ping", "Timestamp"]


async def test_unknown_and_missing_actions_get_asterisks_errors(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    client = await connect(sim)
    bogus = await client.action("Bogus")
    assert first(bogus, "Message") == (
        "Invalid/unknown command: Bogus. Use Action: ListCommands to show available commands."
    )
    client.write(b"ActionID: x1\r\nFoo: bar\r\n\r\n")
    missing = await client.response("x1")
    assert first(missing, "Message") == "Missing action in request"
    bye = await client.action("Logoff")
    assert (first(bye, "Response"), first(bye, "Message")) == (
        "Goodbye",
        "Thanks for all the fish.",
    )
    await client.eof()


async def test_queue_status_lists_params_members_and_waiting_callers(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim(time_scale=0.01)
    client = await connect(sim)
    for agent in ("agent1", "agent2"):
        await client.action("QueuePause", Interface=f"Local/{agent}@agents/n", Paused="true")
    client.send(
        "Originate",
        Channel="Local/100@inbound",
        Context="caller",
        Exten="s",
        Priority="1",
        CallerID='"Jane Roe" <+14155550100>',
        Async="true",
        Variable="CALLER_HOLD=30",
    )
    await client.until(lambda m: m.get("Event") == "QueueCallerJoin")
    action_id = client.send("QueueStatus", Queue="support")
    listing = await client.until(lambda m: m.get("Event") == "QueueStatusComplete")
    start = next(m for m in listing if first(m, "ActionID") == action_id and "Response" in m)
    assert headers(start) == ["Response", "ActionID", "EventList", "Message"]
    assert first(start, "Message") == "Queue status will follow"
    items = [m for m in listing if m.get("Event") in ("QueueParams", "QueueMember", "QueueEntry")]
    assert [m["Event"] for m in items] == [
        "QueueParams",
        "QueueMember",
        "QueueMember",
        "QueueEntry",
    ]
    for item in items:
        assert headers(item)[-1] == "ActionID"
        assert "Privilege" not in item
    entry = items[-1]
    assert (first(entry, "Position"), first(entry, "CallerIDNum")) == ("1", "+14155550100")
    assert first(items[1], "Paused") == "1"
    complete = listing[-1]
    assert headers(complete) == ["Event", "ActionID", "EventList", "ListItems"]
    assert first(complete, "ListItems") == "4"


async def test_queue_params_count_completed_and_abandoned_calls(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    client = await connect(sim)
    await sim.run_scenario("answered")
    await sim.run_scenario("abandon")
    action_id = client.send("QueueStatus", Queue="support", Member="Alice")
    listing = await client.until(lambda m: m.get("Event") == "QueueStatusComplete")
    params = next(m for m in listing if m.get("Event") == "QueueParams")
    assert first(params, "ActionID") == action_id
    assert (first(params, "Completed"), first(params, "Abandoned")) == ("1", "1")
    assert int(first(params, "TalkTime")) >= 0
    assert first(params, "ServicelevelPerf") == "100.0"
    members = [m for m in listing if m.get("Event") == "QueueMember"]
    assert [first(m, "Name") for m in members] == ["Alice"]
    assert first(members[0], "CallsTaken") == "1"


async def test_core_show_channels_lists_live_channels_action_id_first(
    start_sim: StartSim, connect: Connect
) -> None:
    # A wall clock, not the virtual one: the listing must land while the call is up.
    sim = await start_sim(time_scale=0.01)
    client = await connect(sim)
    client.send(
        "Originate",
        Channel="Local/100@inbound",
        Context="caller",
        Exten="s",
        Async="true",
        Variable=["CALLER_HOLD=60", "__AGENT_TALK=30"],
    )
    await client.until(lambda m: m.get("Event") == "AgentConnect")
    action_id = client.send("CoreShowChannels")
    listing = await client.until(lambda m: m.get("Event") == "CoreShowChannelsComplete")
    items = events(listing, "CoreShowChannel")
    assert len(items) == 4
    assert first(listing[-1], "ListItems") == "4"
    assert headers(items[0])[:3] == ["Event", "ActionID", "Channel"]
    assert first(items[0], "ActionID") == action_id
    assert headers(items[0])[-4:] == ["Application", "ApplicationData", "Duration", "BridgeId"]
    assert all(len(first(m, "Duration").split(":")) == 3 for m in items)
    count = await client.action("Command", Command="core show channels count")
    assert every(count, "Output")[:2] == ["4 active channels", "1 active call"]


async def test_summary_pause_add_remove_answer_like_asterisk(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    client = await connect(sim)
    paused = await client.action(
        "QueuePause",
        Queue="support",
        Interface="Local/agent1@agents/n",
        Paused="true",
        Reason="lunch",
    )
    assert first(paused, "Message") == "Interface paused successfully"
    pause_event = (await client.until(lambda m: m.get("Event") == "QueueMemberPause"))[-1]
    assert (first(pause_event, "Paused"), first(pause_event, "PausedReason")) == ("1", "lunch")
    missing = await client.action("QueuePause", Interface="Local/nobody@agents/n", Paused="0")
    assert first(missing, "Message") == "Interface not found"
    added = await client.action(
        "QueueAdd", Queue="support", Interface="PJSIP/1001", MemberName="Zoe", Penalty="1"
    )
    assert first(added, "Message") == "Added interface to queue"
    added_event = (await client.until(lambda m: m.get("Event") == "QueueMemberAdded"))[-1]
    assert first(added_event, "Membership") == "dynamic"
    again = await client.action("QueueAdd", Queue="support", Interface="PJSIP/1001")
    assert first(again, "Message") == "Unable to add interface: Already there"
    summary = await client.action("QueueSummary", Queue="support")
    item = (await client.until(lambda m: m.get("Event") == "QueueSummaryComplete"))[0]
    assert first(summary, "EventList") == "start"
    assert (first(item, "LoggedIn"), first(item, "Available")) == ("3", "2")
    static = await client.action("QueueRemove", Queue="support", Interface="Local/agent1@agents/n")
    assert first(static, "Message") == "Member not dynamic"
    removed = await client.action("QueueRemove", Queue="support", Interface="PJSIP/1001")
    assert first(removed, "Message") == "Removed interface from queue"
    gone = await client.action("QueueRemove", Queue="support", Interface="PJSIP/1001")
    assert first(gone, "Message") == "Unable to remove interface: Not there"
    nowhere = await client.action("QueueRemove", Queue="nosuch", Interface="PJSIP/1001")
    assert first(nowhere, "Message") == "Unable to remove interface from queue: No such queue"


async def test_command_output_comes_as_output_headers(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    client = await connect(sim)
    version = await client.action("Command", Command="core show version")
    assert first(version, "Message") == "Command output follows"
    assert first(version, "Output").startswith("Asterisk 22.6.0 built by")
    unknown = await client.action("Command", Command="frobnicate")
    assert first(unknown, "Response") == "Error"
    hint = "(type 'core show help frobnicate' for other possible commands)"
    assert first(unknown, "Output") == f"No such command 'frobnicate' {hint}"


async def test_event_mask_and_filters_choose_what_a_session_reads(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    silent = await connect(sim, Events="off")
    agent_only = await connect(sim, Events="agent")
    filtered = await connect(sim)
    added = await filtered.action("Filter", Operation="Add", Filter="Event: Agent")
    assert first(added, "Response") == "Success"
    await filtered.action("Filter", Operation="Add", Filter="!Event: AgentCalled")
    await sim.run_scenario("answered")
    assert events(await silent.sync()) == []
    names = {m["Event"] for m in events(await agent_only.sync())}
    assert names == {
        "QueueCallerJoin",
        "AgentCalled",
        "QueueMemberStatus",
        "QueueCallerLeave",
        "AgentConnect",
        "AgentComplete",
    }
    assert [m["Event"] for m in events(await filtered.sync())] == ["AgentConnect", "AgentComplete"]
    off = await agent_only.action("Events", EventMask="off")
    assert first(off, "Events") == "Off"


async def test_broadcast_events_carry_timestamps_and_escaped_names(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    client = await connect(sim)
    await sim.run_scenario("answered", caller='"O\'Brien \\"Acme\\"" <+353 1 456 7890>')
    joined = next(m for m in events(await client.sync()) if m["Event"] == "QueueCallerJoin")
    assert headers(joined)[:3] == ["Event", "Privilege", "Timestamp"]
    assert first(joined, "Privilege") == "agent,all"
    assert first(joined, "CallerIDName") == 'O\\\'Brien \\"Acme\\"'
    assert first(joined, "CallerIDNum") == "+35314567890"


async def test_sessions_all_see_the_same_events(start_sim: StartSim, connect: Connect) -> None:
    sim = await start_sim()
    clients = [await connect(sim) for _ in range(4)]
    await asyncio.gather(sim.run_scenario("answered"), sim.run_scenario("ringnoanswer"))
    seen = [[(m["Event"], m.get("Uniqueid")) for m in events(await c.sync())] for c in clients]
    assert len(seen[0]) > 100
    assert all(s == seen[0] for s in seen)
