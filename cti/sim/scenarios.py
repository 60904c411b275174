"""Named scenarios: each replays what the client did in one capture of tests/data/ami-traces/.

`answered` is what answered.jsonl recorded: the same caller into the same queue, the same pauses
and hang-ups; the PBX then produces the events. Parameters override the caller, how long the
caller stays on the line (`hold`) and the agent's talk time (`talk`, the rig's AGENT_TALK).
Each scenario returns the linkedids of its calls once they have all ended.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cti.sim import channels as ch
from cti.sim.dialplan import num
from cti.sim.originate import OriginateRequest, originate
from cti.sim.queues import pause_targets, set_paused

if TYPE_CHECKING:
    from cti.sim.pbx import Pbx


@dataclass(frozen=True, slots=True)
class Params:
    caller: str = ""
    hold: float = 0.0
    talk: float = 0.0


@dataclass(frozen=True, slots=True)
class Inbound:
    exten: str
    caller: str
    hold: float
    talk: float = 0.0
    qtimeout: int = 0


async def call(
    pbx: Pbx, spec: Inbound, params: Params, channel_ids: tuple[str, str] = ("", "")
) -> str:
    """Originate a customer into [inbound] as the captures did; returns the call's linkedid."""
    variables = [("CALLER_HOLD", num(params.hold or spec.hold))]
    if spec.qtimeout:
        variables.append(("QTIMEOUT", str(spec.qtimeout)))
    talk = params.talk or spec.talk
    if talk:
        variables.append(("__AGENT_TALK", num(talk)))
    req = OriginateRequest(
        f"Local/{spec.exten}@inbound",
        "caller",
        "s",
        callerid=params.caller or spec.caller,
        variables=variables,
        action_id=action_id(pbx),
        channel_id=channel_ids[0],
        other_channel_id=channel_ids[1],
    )
    outcome = await originate(pbx, req)
    return outcome.channel.linkedid if outcome.channel is not None else ""


def action_id(pbx: Pbx) -> str:
    """The simulator originates like the rig's client did, so OriginateResponse has an ActionID."""
    pbx.originated += 1
    return f"sim-{pbx.originated}"


async def finish(pbx: Pbx, *linkedids: str) -> list[str]:
    for linkedid in linkedids:
        if linkedid:
            await pbx.ended(linkedid)
    return list(linkedids)


def pause(pbx: Pbx, interface: str, queue: str, reason: str, paused: bool = True) -> None:
    set_paused(pbx, pause_targets(pbx, interface, queue), paused, reason)


def simple(spec: Inbound) -> Callable[[Pbx, Params], Awaitable[list[str]]]:
    async def scenario(pbx: Pbx, params: Params) -> list[str]:
        return await finish(pbx, await call(pbx, spec, params))

    return scenario


def with_paused(
    spec: Inbound, queue: str, reasons: dict[str, str]
) -> Callable[[Pbx, Params], Awaitable[list[str]]]:
    """The members are paused for the call and unpaused after it (abandon, qtimeout)."""

    async def scenario(pbx: Pbx, params: Params) -> list[str]:
        for interface, reason in reasons.items():
            pause(pbx, interface, queue, reason)
        try:
            return await finish(pbx, await call(pbx, spec, params))
        finally:
            for interface in reasons:
                pause(pbx, interface, queue, "", paused=False)

    return scenario


async def userevent(pbx: Pbx, params: Params) -> list[str]:
    """The dialplan UserEvent (exten 340), and the one the client sent with the action."""
    linkedid = await call(pbx, Inbound("340", '"UE Caller" <+14155550113>', 5), params)
    fields = [("UserEvent", "CtiPing"), ("ActionID", action_id(pbx)), ("Foo", "bar")]
    pbx.emit("UserEvent", "user", fields)
    return await finish(pbx, linkedid)


async def anonymous(pbx: Pbx, params: Params) -> list[str]:
    # When the capture was made the support queue had last rung Alice: rrmemory rings Bob next.
    pbx.queues["support"].rr_position = 1
    first = await call(pbx, Inbound("100", "Anonymous <anonymous>", 8), params)
    await finish(pbx, first)
    second = await call(pbx, Inbound("100", '"王先生" <+8613812345678>', 8), Params())
    return [first, *await finish(pbx, second)]


async def amihangup(pbx: Pbx, params: Params) -> list[str]:
    """A caller waiting in sales is hung up by the AMI Hangup action after 3 s."""
    member = "Local/agent4@agents/n"
    pause(pbx, member, "sales", "x")
    try:
        spec = Inbound("200", '"Hung Up" <+14155550117>', 30)
        ids = (pbx.new_uniqueid(), pbx.new_uniqueid())
        linkedid = await call(pbx, spec, params, ids)
        await pbx.clock.sleep(3.0)
        caller = pbx.find(ids[1])
        if caller is not None:
            ch.request_hangup(pbx, caller, 0, announce=False)
        return await finish(pbx, linkedid)
    finally:
        pause(pbx, member, "sales", "", paused=False)


async def clicktodial(pbx: Pbx, params: Params) -> list[str]:
    req = OriginateRequest(
        "Local/agent1@agents",
        "outbound",
        "15551230000",
        callerid=params.caller or '"Support" <100>',
        timeout=20.0,
        action_id=action_id(pbx),
    )
    outcome = await originate(pbx, req)
    return await finish(pbx, outcome.channel.linkedid if outcome.channel is not None else "")


SUPPORT_PAUSES = {"Local/agent1@agents/n": "lunch", "Local/agent2@agents/n": "training"}
MEETING = {"Local/agent1@agents/n": "meeting", "Local/agent2@agents/n": "meeting"}

SCENARIOS: dict[str, Callable[[Pbx, Params], Awaitable[list[str]]]] = {
    "answered": simple(Inbound("100", '"Jane Roe" <+14155550100>', 20)),
    "ringnoanswer": simple(Inbound("200", '"Acme Ltd" <020 7946 0018>', 20)),
    "abandon": with_paused(Inbound("100", "5551234", 4), "support", SUPPORT_PAUSES),
    "qtimeout": with_paused(
        Inbound("100", '"Timeout Caller" <+14155550116>', 20, qtimeout=3), "support", MEETING
    ),
    "rna": simple(Inbound("310", '"Pierre Martin" <+33142685300>', 12)),
    "dump": simple(Inbound("320", '"Dump Caller" <+61291234567>', 15)),
    "recorded": simple(Inbound("330", '"Rec Caller" <+14155550111>', 20, talk=4)),
    "callerhangup": simple(Inbound("330", '"Short Caller" <+14155550112>', 3, talk=30)),
    "withheld": simple(Inbound("101", '"Hidden Person" <+14155550115>', 8)),
    "ringing": simple(Inbound("350", '"Ring Caller" <+14155550114>', 10)),
    "userevent": userevent,
    "direct": simple(Inbound("300", '"Direct Caller" <+14155550120>', 10)),
    "anonymous": anonymous,
    "amihangup": amihangup,
    "clicktodial": clicktodial,
}


async def run_scenario(pbx: Pbx, name: str, params: Params) -> list[str]:
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}")
    return await scenario(pbx, params)
