"""The live floor for supervisors: agents, queues and calls, pushed as the PBX reports them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from cti import keys
from cti.core.events import (
    AgentChanged,
    AgentSnapshot,
    CallEnded,
    CallEvent,
    CallSnapshot,
    QueueChanged,
    QueueSnapshot,
)
from cti.i18n import N_
from cti.webapp.policy import Role, requires
from cti.webapp.render import locale_text, render
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
    "reconnecting": N_("reconnecting"),
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
        "waiting": [
            {"number": w.number, "name": w.name, "since": _iso(w.enqueued_at)}
            for w in queue.waiting
        ],
    }


def call_json(call: CallSnapshot) -> dict[str, Any]:
    return {
        "key": f"{call.pbx}/{call.call_id}",
        "direction": call.direction.value,
        "number": call.number,
        "name": call.name,
        "queue": call.queue,
        "agent": call.agent_name or call.agent_interface,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "outcome": call.outcome.value if call.outcome else None,
    }


async def publish(app: web.Application, event: object) -> None:
    """Bus subscriber: every floor change goes to the supervisors' sockets."""
    hub = app[keys.PUSH]
    match event:
        case AgentChanged(agent=agent):
            hub.publish(CHANNEL, "agent", agent_json(agent))
        case QueueChanged(queue=queue):
            hub.publish(CHANNEL, "queue", queue_json(queue))
        case CallEnded(call=call):
            hub.publish(CHANNEL, "call-ended", call_json(call))
        case CallEvent(call=call):
            hub.publish(CHANNEL, "call", call_json(call))


def snapshot(app: web.Application, now: datetime) -> dict[str, Any]:
    feeds = app[keys.FEEDS].values()
    return {
        "seq": app[keys.PUSH].last_seq(CHANNEL),
        "agents": [agent_json(a) for f in feeds for a in f.state.floor.agents(now)],
        "queues": [queue_json(q) for f in feeds for q in f.state.floor.queues()],
        "calls": [call_json(c) for f in feeds for c in f.state.calls.live()],
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


def setup(app: web.Application) -> None:
    app.router.add_get("/floor", floor_page, name="floor")
    app.router.add_get("/ws/floor", floor_socket, name="floor-socket")
