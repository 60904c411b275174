"""The simulated dialplan (the rig's extensions.conf) and the loop that runs it on a channel.

Contexts: [inbound] from the configured routes, [caller] (the originated "customer phone"),
[outbound] and [customer] for click-to-dial, and every agent phone (`Local/agent1@agents`), whose
steps come from the call's plan or the agent's profile. Each step publishes Newexten before it
runs, so the dialplan-class events follow the real ones application by application.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from cti.sim import cdr
from cti.sim.channels import Channel, hangup, indicate, new_exten, resume, set_var
from cti.sim.config import AgentProfile

if TYPE_CHECKING:
    from cti.sim.pbx import Pbx


@dataclass(frozen=True, slots=True)
class Step:
    app: str
    data: str = ""


@dataclass(frozen=True, slots=True)
class Jump:
    context: str
    exten: str
    priority: int


Result = Literal["next", "stop"] | Jump
App = Callable[["Pbx", Channel, str], Awaitable[Result]]

_VAR = re.compile(r"\$\{([A-Za-z0-9_()]+)\}")
# Answer() on a channel that was not up waits this long before the next priority (every capture
# shows the 0.5 s gap after Answer).
ANSWER_DELAY = 0.5


def num(value: float) -> str:
    return str(int(value)) if value == int(value) else f"{value:g}"


def _caller_all(chan: Channel) -> str:
    return f'"{chan.cid_name}" <{chan.cid_num}>'


def expand(chan: Channel, data: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match[1]
        if name == "CALLERID(num)":
            return chan.cid_num
        if name == "CALLERID(all)":
            return _caller_all(chan)
        return chan.variables.get(name, "")

    return _VAR.sub(value, data)


def agent_steps(profile: AgentProfile, variables: dict[str, str]) -> list[Step]:
    talk = num(float(variables.get("AGENT_TALK") or profile.talk))
    ring = num(profile.ring)
    if profile.mode == "busy":
        return [Step("Busy", "5")]
    if profile.mode == "dump":
        return [Step("Answer"), Step("Hangup")]
    if profile.mode == "never":
        return [Step("Wait", ring if profile.ring else "30"), Step("Hangup")]
    head = [Step("Ringing")] if profile.mode == "ringing" else []
    return [*head, Step("Wait", ring), Step("Answer"), Step("Wait", talk), Step("Hangup")]


def lookup(pbx: Pbx, context: str, exten: str, chan: Channel | None = None) -> list[Step] | None:
    """The steps of exten@context, or None if the dialplan has no such extension."""
    config = pbx.config
    variables = chan.variables if chan is not None else {}
    if context == "inbound":
        route = config.route(exten)
        if route is None:
            return None
        if route.kind == "direct":
            return [Step("Dial", f"{route.target},{route.timeout}"), Step("Hangup")]
        if route.kind == "userevent":
            event = "CtiTest,Customer: ${CALLERID(num)},Ticket: 42"
            return [Step("Answer"), Step("UserEvent", event), Step("Wait", "1"), Step("Hangup")]
        plain = config.route_for_queue(route.target)
        if route.withheld and plain is not None:
            return [Step("Set", "CALLERID(pres)=prohib"), Step("Goto", f"{plain.exten},1")]
        timeout = variables.get("QTIMEOUT") or str(route.timeout)
        steps = [Step("NoOp", f"Inbound {route.target} call from ${{CALLERID(all)}}")]
        steps = steps if route.announce else []
        steps.append(Step("Answer"))
        if route.userfield:
            steps.append(Step("Set", f"CDR(userfield)={route.target}"))
        steps.append(Step("Queue", f"{route.target},rt,,,{timeout}"))
        if route.report:
            steps.append(Step("NoOp", "QUEUESTATUS=${QUEUESTATUS}"))
        return [*steps, Step("Hangup")]
    if context == "caller" and exten == "s":
        hold = variables.get("CALLER_HOLD") or "30"
        return [Step("Answer"), Step("Wait", hold), Step("Hangup")]
    if context == "outbound" and exten.isdigit():
        dial = f"Local/{exten}@customer/n,20"
        return [Step("NoOp", f"Outbound to {exten}"), Step("Dial", dial), Step("Hangup")]
    device = f"Local/{exten}@{context}"
    plan = pbx.plans.get(chan.linkedid) if chan is not None else None
    if context == "customer" and exten.isdigit():
        # An exact extension wins over the `_X.` pattern, as in Asterisk's dialplan.
        profile = config.customer(device)
        if profile is None:
            profile = plan.customer(device) if plan else AgentProfile(device, "answer", 1, 2)
        return agent_steps(profile, {})
    if pbx.is_phone(device):
        profile = plan.agent(device) if plan else config.profile(device)
        return agent_steps(profile, variables)
    return None


def exists(pbx: Pbx, context: str, exten: str) -> bool:
    config = pbx.config
    device = f"Local/{exten}@{context}"
    return (
        (context == "inbound" and config.route(exten) is not None)
        or (context == "caller" and exten == "s")
        or (context in ("outbound", "customer") and exten.isdigit())
        or pbx.is_phone(device)
    )


async def run(pbx: Pbx, chan: Channel, context: str, exten: str, priority: int = 1) -> None:
    """Run dialplan on the channel until it ends or hangs up, then hang the channel up."""
    chan.runs_pbx = True
    pbx.calls_processed += 1
    try:
        steps = lookup(pbx, context, exten, chan)
        while steps is not None and 0 < priority <= len(steps) and not chan.ending:
            step = steps[priority - 1]
            chan.context, chan.exten, chan.priority = context, exten, priority
            data = expand(chan, step.data)
            chan.cdr.app_ran()
            new_exten(pbx, chan, step.app, data)
            cel_app = step.app in cdr.CEL_APPS
            if cel_app:
                cdr.cel(pbx, chan, "APP_START")
            result = await _app(step.app)(pbx, chan, data)
            if cel_app:
                cdr.cel(pbx, chan, "APP_END")
            target = resume(chan)
            if target is not None:
                context, exten, priority = target
                steps = lookup(pbx, context, exten, chan)
                continue
            if result == "stop":
                break
            if isinstance(result, Jump):
                context, exten, priority = result.context, result.exten, result.priority
                steps = lookup(pbx, context, exten, chan)
            else:
                priority += 1
    finally:
        hangup(pbx, chan)


def _app(name: str) -> App:
    if name == "Queue":
        from cti.sim.queue_app import queue_app

        return queue_app
    if name == "Dial":
        from cti.sim.dial import dial_app

        return dial_app
    return _BASIC.get(name, _noop)


async def _noop(pbx: Pbx, chan: Channel, data: str) -> Result:
    return "next"


async def wait(pbx: Pbx, chan: Channel, seconds: float) -> bool:
    """Sleep unless the channel is asked to hang up; True if the time ran out."""
    return not await pbx.clock.first([chan.hangup_requested], seconds)


async def _answer(pbx: Pbx, chan: Channel, data: str) -> Result:
    if chan.answered_at is not None:
        return "next"
    indicate(pbx, chan, "ANSWER")
    return "next" if await wait(pbx, chan, ANSWER_DELAY) else "stop"


async def _wait(pbx: Pbx, chan: Channel, data: str) -> Result:
    return "next" if await wait(pbx, chan, float(data or 0)) else "stop"


async def _set(pbx: Pbx, chan: Channel, data: str) -> Result:
    name, _, value = data.partition("=")
    if name == "CDR(userfield)":
        chan.userfield = value
    elif name == "CALLERID(pres)":
        # Shows on the legs the call rings next (35 in withheld.jsonl), not on this channel.
        chan.pres = 35 if value.startswith("prohib") else 0
    else:
        set_var(pbx, chan, name, value)
    return "next"


async def _goto(pbx: Pbx, chan: Channel, data: str) -> Result:
    parts = data.split(",")
    if len(parts) == 3:
        return Jump(parts[0], parts[1], int(parts[2]))
    return Jump(chan.context, parts[0], int(parts[1]) if len(parts) > 1 else 1)


async def _hangup(pbx: Pbx, chan: Channel, data: str) -> Result:
    if chan.cause is None:
        chan.cause = int(data) if data.isdigit() else 16
    return "stop"


async def _busy(pbx: Pbx, chan: Channel, data: str) -> Result:
    chan.cause = 17
    indicate(pbx, chan, "BUSY")
    await wait(pbx, chan, float(data or 0) or 3600)
    return "stop"


async def _ringing(pbx: Pbx, chan: Channel, data: str) -> Result:
    indicate(pbx, chan, "RINGING")
    return "next"


async def _user_event(pbx: Pbx, chan: Channel, data: str) -> Result:
    name, *pairs = data.split(",")
    fields = [*chan.snapshot(), ("UserEvent", name)]
    for pair in pairs:
        key, _, value = pair.partition(":")
        fields.append((key.strip(), value.strip()))
    pbx.emit("UserEvent", "user", fields)
    return "next"


_BASIC: dict[str, App] = {
    "Answer": _answer,
    "Wait": _wait,
    "NoOp": _noop,
    "Set": _set,
    "Goto": _goto,
    "Hangup": _hangup,
    "Busy": _busy,
    "Ringing": _ringing,
    "UserEvent": _user_event,
}
