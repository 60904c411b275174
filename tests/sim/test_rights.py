"""Manager users' rights as Asterisk 22 applies them: write classes gate actions (Permission
denied at once, list actions included), read classes gate events, ListCommands tells the truth."""

from __future__ import annotations

from cti.ami.frames import first
from cti.sim.actions import _HANDLERS, _PBX_HANDLERS
from cti.sim.privileges import ACTIONS
from tests.sim.client import events
from tests.sim.conftest import Connect, StartSim

LIMITED = {"username": "cti_limited", "secret": "limitedsecret"}


def test_every_simulated_action_declares_what_it_needs() -> None:
    assert {name.lower() for name in ACTIONS} == {*_HANDLERS, *_PBX_HANDLERS}


async def test_an_action_outside_the_users_write_classes_is_denied_at_once(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    client = await connect(sim, **LIMITED)
    channels_id = client.send("CoreShowChannels")
    # A Ping behind it: the denial must be the whole answer, with no list before the Pong.
    ping_id = client.send("Ping")
    got = await client.until(lambda m: first(m, "ActionID") == ping_id)
    assert [(first(m, "ActionID"), first(m, "Response"), first(m, "Message")) for m in got] == [
        (channels_id, "Error", "Permission denied"),
        (ping_id, "Success", ""),
    ]
    assert list(got[0]) == ["Response", "ActionID", "Message"]
    for action, headers in (
        ("Filter", {"Operation": "Add", "Filter": "!Event: Newexten"}),
        ("Command", {"Command": "core show version"}),
    ):
        denied = await client.action(action, **headers)
        assert (first(denied, "Response"), first(denied, "Message")) == (
            "Error",
            "Permission denied",
        )
    status_id = client.send("QueueStatus", Queue="support")
    listing = await client.until(lambda m: first(m, "Event") == "QueueStatusComplete")
    assert first(listing[0], "ActionID") == status_id
    assert first(listing[0], "Message") == "Queue status will follow"
    paused = await client.action("QueuePause", Interface="Local/agent1@agents/n", Paused="true")
    assert first(paused, "Message") == "Interface paused successfully"


async def test_list_commands_shows_exactly_the_actions_the_user_may_send(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    full = await (await connect(sim)).action("ListCommands")
    limited = await (await connect(sim, **LIMITED)).action("ListCommands")
    assert list(full)[:2] == ["Response", "ActionID"]
    assert "Message" not in full
    names = list(full)[2:]
    assert names == sorted(names, key=str.lower)
    assert first(full, "CoreShowChannels") == (
        "List currently active channels. (Priv: system,reporting,all)"
    )
    assert first(full, "QueueStatus") == "Show queue status. (Priv: <none>)"
    assert first(full, "Originate") == "Originate a call. (Priv: originate,all)"
    assert {"CoreShowChannels", "Filter", "Command", "UserEvent"} <= set(full)
    assert not {"CoreShowChannels", "Filter", "Command", "UserEvent"} & set(limited)
    assert {"QueueStatus", "QueuePause", "QueueAdd", "QueueRemove", "Originate"} <= set(limited)


async def test_events_reach_a_user_only_in_the_classes_it_reads(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    limited = await connect(sim, login=False)
    login = await limited.login(**LIMITED)
    full = await connect(sim)
    await sim.run_scenario("answered")
    seen = events(await limited.sync())
    assert {first(m, "Privilege") for m in seen} == {"call,all", "agent,all"}
    assert {"AgentCalled", "Newchannel", "Hangup"} <= {m["Event"] for m in seen}
    assert first(login, "Message") == "Authentication accepted"
    assert "FullyBooted" not in {m["Event"] for m in seen}, "no system read, no FullyBooted"
    privileges = {first(m, "Privilege") for m in events(await full.sync())}
    assert {"dialplan,all", "cdr,all", "system,all"} <= privileges


async def test_a_global_setvar_raises_a_varset_without_a_channel_for_dialplan_readers(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    limited = await connect(sim, **LIMITED)
    full = await connect(sim)
    done = await limited.action("Setvar", Variable="CTI_PROBE", Value="a1b2")
    assert (first(done, "Response"), first(done, "Message")) == ("Success", "Variable Set")
    varset = events(await full.sync(), "VarSet")
    assert [list(m.items()) for m in varset] == [
        [
            ("Event", "VarSet"),
            ("Privilege", "dialplan,all"),
            ("Timestamp", first(varset[0], "Timestamp")),
            ("Channel", "none"),
            ("Uniqueid", "none"),
            ("Variable", "CTI_PROBE"),
            ("Value", "a1b2"),
        ]
    ]
    assert events(await limited.sync(), "VarSet") == []
    read = await limited.action("Getvar", Variable="CTI_PROBE")
    assert first(read, "Value") == "a1b2"
