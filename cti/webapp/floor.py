"""The live floor for supervisors: agents, queues and calls, pushed as the PBX reports them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from cti import keys
from cti.ami.feed import PbxFeed
from cti.core.events import (
    AgentChanged,
    AgentSnapshot,
    CallEnded,
    CallEvent,
    CallSnapshot,
    QueueChanged,
    QueueSnapshot,
)
from cti.errors import DomainError, NotFoundError
from cti.i18n import N_
from cti.webapp.policy import Role, requires
from cti.webapp.render import locale_text, render
from cti.webapp.requests import json_object
from cti.webapp.security import check_origin

CHANNEL = "floor"
LABELS = {
    "available": N_("available"),
    "ringing": N_("ringing"),
    "in-call": N_("in call"),
    "wrap-up": N_("wrap-up"),
    "paused": N_("paused"),
    "unavailable": N_("unavailable"),
    "live": N_("live"),
    "pause": N_("Pause"),
    "unpause": N_("Unpause"),
    "remove": N_("Remove from"),
    "add": N_("Add to queue"),
    "done": N_("Done."),
    "reconnecting": N_("reconnecting"),
    "withheld": N_("Withheld number"),
}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def agent_json(agent: AgentSnapshot) -> dict[str, Any]:
    return {
        "key": f"{agent.pbx}/{agent.interface}",
        "pbx": agent.pbx,
        "interface": agent.interface,
        "name": agent.name,
        "state": agent.state.value,
        "since": _iso(agent.since),
        "paused_reason": agent.paused_reason,
        "queues": list(agent.queues),
    }


def queue_json(queue: QueueSnapshot) -> dict[str, Any]:
    return {
        "key": f"{queue.pbx}/{queue.name}",
        "pbx": queue.pbx,
        "name": queue.name,
        "members": len(queue.members),
        # A count and the oldest caller: the whole list, sent on every join and leave, cost
        # the service more than anything else on a busy floor.
        "waiting": len(queue.waiting),
        "oldest": _iso(min((w.enqueued_at for w in queue.waiting), default=None)),
    }


def call_json(call: CallSnapshot, hide_withheld: bool) -> dict[str, Any]:
    hidden = call.withheld and hide_withheld
    return {
        "key": f"{call.pbx}/{call.call_id}",
        "direction": call.direction.value,
        "number": "" if hidden else call.number,
        "name": "" if hidden else call.name,
        "withheld": call.withheld,
        "queue": call.queue,
        "agent": call.agent_name or call.agent_interface,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "outcome": call.outcome.value if call.outcome else None,
    }


def _hides_withheld(app: web.Application) -> bool:
    """The floor is one broadcast to supervisors and admins: it shows a withheld caller only if
    the lowest of them may see who it is."""
    return not app[keys.CONFIG].privacy.shows_withheld(Role.SUPERVISOR.label)


async def publish(app: web.Application, event: object) -> None:
    """Bus subscriber: every floor change goes to the supervisors' sockets."""
    hub = app[keys.PUSH]
    hide = _hides_withheld(app)
    match event:
        case AgentChanged(agent=agent):
            hub.publish(CHANNEL, "agent", agent_json(agent))
        case QueueChanged(queue=queue):
            hub.publish(CHANNEL, "queue", queue_json(queue))
        case CallEnded(call=call):
            hub.publish(CHANNEL, "call-ended", call_json(call, hide))
        case CallEvent(call=call):
            hub.publish(CHANNEL, "call", call_json(call, hide))


def snapshot(app: web.Application, now: datetime) -> dict[str, Any]:
    feeds = app[keys.FEEDS].values()
    hide = _hides_withheld(app)
    return {
        "seq": app[keys.PUSH].last_seq(CHANNEL),
        "agents": [agent_json(a) for f in feeds for a in f.state.floor.agents(now)],
        "queues": [queue_json(q) for f in feeds for q in f.state.floor.queues()],
        "calls": [call_json(c, hide) for f in feeds for c in f.state.calls.live()],
        "kpis": app[keys.TODAY].rows(),
        "pause_reasons": app[keys.CONFIG].kpi.pause_reasons,
    }


@requires(Role.SUPERVISOR)
async def floor_page(request: web.Request) -> web.StreamResponse:
    data = snapshot(request.app, datetime.now(UTC))
    text = locale_text(request)
    labels = {key: text.gettext(label) for key, label in LABELS.items()}
    return await render(request, "floor.html", {"floor": data, "labels": labels})


@requires(Role.SUPERVISOR)
async def floor_socket(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    return await request.app[keys.PUSH].serve(request, CHANNEL)


def _text(body: dict[str, Any], name: str, limit: int, required: bool = True) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value):
        raise DomainError(f"'{name}' must be text of 1 to {limit} characters", {name: "invalid"})
    return value


def _feed(request: web.Request) -> PbxFeed:
    name = request.match_info["pbx"]
    feed = request.app[keys.FEEDS].get(name)
    if feed is None:
        raise NotFoundError(f"no PBX named {name!r}")
    return feed


@requires(Role.SUPERVISOR)
async def pause_agent(request: web.Request) -> web.StreamResponse:
    body = await json_object(request)
    paused = body.get("paused")
    if not isinstance(paused, bool):
        raise DomainError("'paused' must be true or false")
    reason = _text(body, "reason", 60, required=paused)
    reasons = request.app[keys.CONFIG].kpi.pause_reasons
    if paused and reason not in reasons:
        raise DomainError(f"reason {reason!r} is not one of {', '.join(reasons)}")
    await _feed(request).actions.pause(
        _text(body, "interface", 128),
        paused=paused,
        reason=reason,
        queue=_text(body, "queue", 80, False),
    )
    return web.json_response({"done": True})


@requires(Role.SUPERVISOR)
async def add_member(request: web.Request) -> web.StreamResponse:
    body = await json_object(request)
    await _feed(request).actions.add_member(
        request.match_info["queue"],
        _text(body, "interface", 128),
        name=_text(body, "name", 80, False),
        state_interface=_text(body, "state_interface", 128, False),
    )
    return web.json_response({"done": True})


@requires(Role.SUPERVISOR)
async def remove_member(request: web.Request) -> web.StreamResponse:
    body = await json_object(request)
    await _feed(request).actions.remove_member(
        request.match_info["queue"], _text(body, "interface", 128)
    )
    return web.json_response({"done": True})


def setup(app: web.Application) -> None:
    app.router.add_get("/floor", floor_page, name="floor")
    app.router.add_get("/ws/floor", floor_socket, name="floor-socket")
    app.router.add_post("/api/pbx/{pbx}/pause", pause_agent)
    app.router.add_post("/api/pbx/{pbx}/queues/{queue}/members", add_member)
    app.router.add_post("/api/pbx/{pbx}/queues/{queue}/members/remove", remove_member)
