"""Originate: call a channel, and when it answers run dialplan on it (manager.c:4395-4470).

`Local/100@inbound` is an inbound customer (its ;2 half runs [inbound], the ;1 half is the phone
running [caller]); `Local/agent1@agents` or `PJSIP/1001` with Context `outbound` is click-to-dial,
the agent leg first, then the customer. The outcome is published as OriginateResponse carrying the
action's ActionID: Reason 4 when answered, 3 no answer, 5 busy, 1 hung up, 0 no such channel.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cti.sim import channels as ch
from cti.sim import dial, dialplan
from cti.sim.plans import CallPlan
from cti.sim.wire import UNKNOWN, Fields

if TYPE_CHECKING:
    from cti.sim.channels import Channel
    from cti.sim.pbx import Pbx

_CALLERID = re.compile(
    r'^\s*(?:"(?P<quoted>(?:[^"\\]|\\.)*)"|(?P<bare>[^<]*?))\s*<(?P<num>[^>]*)>\s*$'
)
_REASON = {"BUSY": 5, "NOANSWER": 3, "HANGUP": 1}


def parse_callerid(text: str) -> tuple[str, str]:
    """'"Jane Roe" <+1 415 555>' -> number, name; the number is shrunk as Asterisk does."""
    match = _CALLERID.match(text)
    if match is None:
        return shrink(text.strip()), ""
    quoted = match["quoted"]
    name = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else match["bare"].strip()
    return shrink(match["num"]), name


def shrink(number: str) -> str:
    """ast_shrink_phone_number: drop blanks, '(', ')', '-', and '.' unless it is last."""
    kept = re.sub(r"[\s()\-]", "", number)
    return kept[:-1].replace(".", "") + kept[-1:] if kept else kept


@dataclass(slots=True)
class OriginateRequest:
    channel: str
    context: str
    exten: str
    priority: int = 1
    callerid: str = ""
    variables: list[tuple[str, str]] = field(default_factory=list)
    timeout: float = 30.0
    action_id: str | None = None
    channel_id: str = ""
    other_channel_id: str = ""
    plan: CallPlan | None = None


@dataclass(slots=True)
class Outcome:
    reason: int
    channel: Channel | None = None


async def originate(pbx: Pbx, req: OriginateRequest) -> Outcome:
    cid = parse_callerid(req.callerid) if req.callerid else ("", "")
    uid = req.channel_id or pbx.new_uniqueid()
    if req.plan is not None:
        pbx.plans[uid] = req.plan
    uids = (uid, req.other_channel_id)
    leg = dial.request(pbx, req.channel, "AppDial2", None, cid, req.variables, uids)
    if leg is None:
        pbx.plans.pop(uid, None)
        _respond(pbx, req, None, 0)
        return Outcome(0)
    target = req.channel.partition("/")[2] if req.channel.startswith("Local/") else req.channel
    ch.dial_event(pbx, "DialBegin", None, leg, [("DialString", target)])
    await dial.await_answer(pbx, [leg], None, req.timeout)
    status = dial.outcome(leg)
    if status != "ANSWER" and leg.ending:
        status = "HANGUP"
    if status != "NOANSWER":
        # When the Originate's own timeout ends the ring, Asterisk's dialler hangs the leg up
        # without a DialEnd (main/dial.c handle_timeout_trip); the OriginateResponse says Reason 3.
        ch.dial_event(pbx, "DialEnd", None, leg, [("DialStatus", _dial_status(status))])
    if status != "ANSWER":
        ch.request_hangup(pbx, leg, 0 if status != "BUSY" else 17, announce=False)
        ch.hangup(pbx, leg)
        _respond(pbx, req, None, _REASON.get(status, 3))
        return Outcome(_REASON.get(status, 3))
    run = dialplan.run(pbx, leg, req.context, req.exten, req.priority)
    pbx.spawn(run, f"sim-pbx-{leg.name}")
    _respond(pbx, req, leg, 4)
    return Outcome(4, leg)


def _dial_status(status: str) -> str:
    return {"HANGUP": "CANCEL"}.get(status, status)


def _respond(pbx: Pbx, req: OriginateRequest, leg: Channel | None, reason: int) -> None:
    fields: Fields = [("ActionID", req.action_id)] if req.action_id is not None else []
    fields += [
        ("Response", "Success" if leg is not None else "Failure"),
        ("Channel", leg.name if leg is not None else req.channel),
        ("Context", req.context),
        ("Exten", req.exten),
        ("Reason", str(reason)),
        ("Uniqueid", leg.uniqueid if leg is not None else req.channel_id or UNKNOWN),
        ("CallerIDNum", (leg.cid_num if leg is not None else "") or UNKNOWN),
        ("CallerIDName", (leg.cid_name if leg is not None else "") or UNKNOWN),
    ]
    pbx.emit("OriginateResponse", "call", fields)
