"""Outgoing legs, as Originate, Dial() and Queue() request them, and the Dial() application.

A `Local/exten@context[/n]` interface becomes a ;1/;2 pair whose ;2 half runs the dialplan; any
other interface (`PJSIP/1001`) is one channel driven by a simulated phone. The creation sequence
differs slightly per requester (AppDial2 for Originate, AppDial for Dial, AppQueue for Queue), as in
the captures.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from cti.sim import bridges, dialplan
from cti.sim import channels as ch
from cti.sim.channels import Channel
from cti.sim.config import AgentProfile

if TYPE_CHECKING:
    from cti.sim.pbx import Pbx

Requester = Literal["AppDial2", "AppDial", "AppQueue"]


def request(
    pbx: Pbx,
    interface: str,
    requester: Requester,
    caller: Channel | None,
    cid: tuple[str, str],
    variables: Sequence[tuple[str, str]] = (),
    uids: tuple[str, str] = ("", ""),
) -> Channel | None:
    """Create the leg; its first channel (the one the requester talks to), None if unknown."""
    linkedid = caller.linkedid if caller is not None else ""
    if not interface.startswith("Local/"):
        return _device_leg(pbx, interface, requester, caller, cid, linkedid)
    body = interface[len("Local/") :]
    no_optimize = body.endswith("/n")
    exten, _, context = body.removesuffix("/n").partition("@")
    if not dialplan.exists(pbx, context, exten):
        return None
    name = pbx.channel_name(f"Local/{exten}@{context}")
    one = ch.create(pbx, f"{name};1", ch.DOWN, context, exten, linkedid, uids[0])
    two = ch.create(pbx, f"{name};2", ch.RING, context, exten, one.linkedid, uids[1])
    one.other, two.other = two, one
    one.outcome = asyncio.get_running_loop().create_future()
    one.dialed_by = caller
    if requester == "AppDial2":
        _originated(pbx, one, two, cid, variables)
    else:
        peer = f"{exten}@{context}" + ("/n" if no_optimize else "")
        inherit = [(k, v) for k, v in caller.inherit.items()] if caller is not None else []
        _dialed(pbx, one, two, requester, cid, peer, inherit)
    pres = caller.pres if caller is not None else 0
    ch.set_caller_id(pbx, two, *cid, pres)
    ch.set_connected(pbx, two, *cid)
    ch.local_bridge(pbx, one, two, not no_optimize)
    pbx.spawn(dialplan.run(pbx, two, context, exten), f"sim-pbx-{two.name}")
    return one


def _originated(
    pbx: Pbx, one: Channel, two: Channel, cid: tuple[str, str], variables: Sequence[tuple[str, str]]
) -> None:
    ch.new_exten(pbx, one, "AppDial2", "(Outgoing Line)")
    # The ;1 half lists an Originate's variables last first, the ;2 half in order.
    _set_vars(pbx, one, variables[::-1])
    ch.set_caller_id(pbx, one, *cid)
    ch.set_connected(pbx, one, *cid)
    two.conn_num, two.conn_name = cid
    _set_vars(pbx, two, variables)


def _dialed(
    pbx: Pbx,
    one: Channel,
    two: Channel,
    requester: Requester,
    cid: tuple[str, str],
    peer: str,
    inherit: Sequence[tuple[str, str]],
) -> None:
    """Dial() and Queue() legs; Dial's ;1 half takes the dialled number as its caller number."""
    if requester == "AppDial":
        ch.set_var(pbx, one, "DIALEDPEERNUMBER", peer)
        number = one.exten
        one.cid_num, one.cid_name = number, cid[1]
        ch.new_exten(pbx, one, requester, "(Outgoing Line)")
        ch.set_caller_id(pbx, one, number, cid[1])
        ch.set_connected(pbx, one, number, cid[1])
        _set_vars(pbx, one, inherit)
    else:
        one.cid_num, one.cid_name = cid
        ch.new_exten(pbx, one, requester, "(Outgoing Line)")
        ch.set_caller_id(pbx, one, *cid)
        _set_vars(pbx, one, inherit)
        ch.set_var(pbx, one, "DIALEDPEERNUMBER", peer)
    ch.set_var(pbx, two, "DIALEDPEERNUMBER", peer)
    _set_vars(pbx, two, inherit)
    two.conn_num, two.conn_name = cid


def _set_vars(pbx: Pbx, chan: Channel, variables: Sequence[tuple[str, str]]) -> None:
    for name, value in variables:
        ch.set_var(pbx, chan, name, value)
        if name.startswith("__"):
            chan.inherit[name] = value


def _device_leg(
    pbx: Pbx,
    interface: str,
    requester: Requester,
    caller: Channel | None,
    cid: tuple[str, str],
    linkedid: str,
) -> Channel | None:
    if not pbx.is_phone(interface):
        return None
    context = caller.context if caller is not None else "default"
    exten = caller.exten if caller is not None else "s"
    chan = ch.create(pbx, pbx.channel_name(interface), ch.DOWN, context, exten, linkedid)
    chan.outcome = asyncio.get_running_loop().create_future()
    chan.dialed_by = caller
    ch.new_exten(pbx, chan, requester, "(Outgoing Line)")
    ch.set_caller_id(pbx, chan, *cid)
    plan = pbx.plans.get(chan.linkedid)
    profile = plan.agent(interface) if plan else pbx.config.profile(interface)
    pbx.spawn(_phone(pbx, chan, profile), f"sim-phone-{chan.name}")
    return chan


async def _phone(pbx: Pbx, chan: Channel, profile: AgentProfile) -> None:
    """A SIP phone: rings (so DialState RINGING, device RINGING), answers, talks, hangs up."""
    if profile.mode == "busy":
        chan.cause = 17
        ch.indicate(pbx, chan, "BUSY")
        return
    ch.indicate(pbx, chan, "RINGING")
    ring = profile.ring if profile.mode != "never" else 3600.0
    if not await dialplan.wait(pbx, chan, ring):
        return
    ch.indicate(pbx, chan, "ANSWER")
    talk = 0.5 if profile.mode == "dump" else profile.talk
    if await dialplan.wait(pbx, chan, talk):
        ch.request_hangup(pbx, chan, 16, announce=False)


async def await_answer(
    pbx: Pbx, legs: list[Channel], caller: Channel | None, seconds: float
) -> Channel | None:
    """Wait for a leg to signal or hang up, or the caller to hang up, or the time to pass."""
    futures: list[asyncio.Future[Any]] = []
    for leg in legs:
        futures.append(leg.hangup_requested)
        if leg.outcome is not None:
            futures.append(leg.outcome)
    if caller is not None:
        futures.append(caller.hangup_requested)
    await pbx.clock.first(futures, seconds)
    return next((leg for leg in legs if leg.ending or (leg.outcome and leg.outcome.done())), None)


def outcome(leg: Channel) -> str:
    """ANSWER or BUSY as signalled; NOANSWER if the leg hung up or nothing happened."""
    if leg.outcome is not None and leg.outcome.done() and not leg.gone:
        return leg.outcome.result()
    return "NOANSWER"


_DIAL_VARS = (
    "DIALSTATUS",
    "DIALEDPEERNUMBER",
    "DIALEDPEERNAME",
    "ANSWEREDTIME",
    "ANSWEREDTIME_MS",
    "DIALEDTIME",
    "DIALEDTIME_MS",
    "RINGTIME",
    "RINGTIME_MS",
    "PROGRESSTIME",
    "PROGRESSTIME_MS",
)


def _dial_times(pbx: Pbx, chan: Channel, status: str, began: float, answered: float | None) -> None:
    now = pbx.clock.now()
    if answered is not None:
        ch.set_var(pbx, chan, "ANSWEREDTIME", str(int(now - answered)))
        ch.set_var(pbx, chan, "ANSWEREDTIME_MS", str(int((now - answered) * 1000)))
    ch.set_var(pbx, chan, "DIALEDTIME", str(int(now - began)))
    ch.set_var(pbx, chan, "DIALEDTIME_MS", str(int((now - began) * 1000)))
    ch.set_var(pbx, chan, "DIALSTATUS", status)


async def dial_app(pbx: Pbx, chan: Channel, data: str) -> dialplan.Result:
    """Dial(interface,timeout): ring one leg, bridge it on answer, end when either side leaves."""
    interface, _, timeout = data.partition(",")
    for name in _DIAL_VARS:
        ch.set_var(pbx, chan, name, "")
    began = pbx.clock.now()
    leg = request(pbx, interface, "AppDial", chan, (chan.cid_num, chan.cid_name))
    if leg is None:
        _dial_times(pbx, chan, "CHANUNAVAIL", began, None)
        return "next"
    dial_string = interface.partition("/")[2] if interface.startswith("Local/") else interface
    ch.dial_event(pbx, "DialBegin", chan, leg, [("DialString", dial_string)])
    chan.cdr.dial_begin(pbx.clock.now(), leg)
    await await_answer(pbx, [leg], chan, float(timeout or 3600))
    status = outcome(leg) if not chan.ending else "CANCEL"
    if status != "ANSWER":
        ch.dial_event(pbx, "DialEnd", chan, leg, [("DialStatus", status)])
        chan.cdr.dial_end(pbx.clock.now(), leg, status)
        ch.request_hangup(pbx, leg, 0 if status != "BUSY" else 17, announce=False)
        ch.hangup(pbx, leg)
        _dial_times(pbx, chan, status, began, None)
        return "stop" if chan.ending else "next"
    answered = pbx.clock.now()
    if chan.answered_at is None:
        # Dial answers its caller when the callee answers.
        ch.indicate(pbx, chan, "ANSWER")
    ch.set_var(pbx, chan, "DIALSTATUS", "ANSWER")
    ch.set_var(pbx, chan, "DIALEDPEERNAME", leg.name)
    ch.set_var(pbx, chan, "DIALEDPEERNUMBER", dial_string)
    ch.dial_event(pbx, "DialEnd", chan, leg, [("DialStatus", "ANSWER")])
    chan.cdr.dial_end(pbx.clock.now(), leg, "ANSWER")
    bridge = bridges.bridge_pair(pbx, leg, chan)
    await pbx.clock.first([chan.hangup_requested, leg.hangup_requested], None)
    first, second = (leg, chan) if leg.ending else (chan, leg)
    bridges.bridge_clear_peers(pbx, bridge, first)
    bridges.bridge_leave(pbx, first)
    _dial_times(pbx, chan, "ANSWER", began, answered)
    bridges.bridge_leave(pbx, second)
    chan.cdr.peer_gone(pbx.clock.now(), leg)
    ch.hangup(pbx, leg)
    return "stop"
