"""Queue actions: QueueStatus, QueueSummary, QueuePause, QueueAdd, QueueRemove (app_queue.c).

Messages are the ones Asterisk 22 sends (dynamic.jsonl, abandon.jsonl); every response goes out
before the events the action causes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cti.sim.config import MemberConfig
from cti.sim.queues import QueueState, new_member, pause_targets, set_paused
from cti.sim.request import Action, PbxHandler
from cti.sim.wire import Fields

if TYPE_CHECKING:
    from cti.sim.pbx import Pbx
    from cti.sim.session import Session

_TRUE = ("yes", "true", "y", "t", "1", "on")


def _selected(pbx: Pbx, name: str) -> list[QueueState]:
    if not name:
        return list(pbx.queues.values())
    return [q for q in pbx.queues.values() if q.name == name]


async def queue_status(pbx: Pbx, session: Session, action: Action) -> None:
    now = pbx.clock.now()
    member_filter = action.get("Member")
    items: list[Fields] = []
    for queue in _selected(pbx, action.get("Queue")):
        perf, perf2 = queue.service_levels()
        params: Fields = [
            ("Queue", queue.name),
            ("Max", "0"),
            ("Strategy", queue.config.strategy),
            ("Calls", str(len(queue.entries))),
            ("Holdtime", str(queue.holdtime)),
            ("TalkTime", str(queue.talktime)),
            ("Completed", str(queue.completed)),
            ("Abandoned", str(queue.abandoned)),
            ("ServiceLevel", str(queue.config.service_level)),
            ("ServicelevelPerf", perf),
            ("ServicelevelPerf2", perf2),
            ("Weight", "0"),
        ]
        items.append(action.item("QueueParams", params))
        for m in queue.members:
            if member_filter and member_filter not in (m.interface, m.name):
                continue
            items.append(action.item("QueueMember", queue.member_fields(m, listing=True)))
        for position, entry in enumerate(queue.entries, start=1):
            chan = entry.chan
            fields: Fields = [
                ("Queue", queue.name),
                ("Position", str(position)),
                ("Channel", chan.name),
                ("Uniqueid", chan.uniqueid),
                ("CallerIDNum", chan.cid_num or "unknown"),
                ("CallerIDName", chan.cid_name or "unknown"),
                ("ConnectedLineNum", chan.conn_num or "unknown"),
                ("ConnectedLineName", chan.conn_name or "unknown"),
                ("Wait", str(int(now - entry.joined))),
                ("Priority", "0"),
            ]
            items.append(action.item("QueueEntry", fields))
    _send_list(session, action, "Queue status will follow", "QueueStatusComplete", items)


async def queue_summary(pbx: Pbx, session: Session, action: Action) -> None:
    now = pbx.clock.now()
    items: list[Fields] = []
    for queue in _selected(pbx, action.get("Queue")):
        logged_in = sum(1 for m in queue.members if m.status not in (4, 5))
        available = sum(1 for m in queue.members if queue.idle(m, now))
        longest = max((int(now - e.joined) for e in queue.entries), default=0)
        fields: Fields = [
            ("Queue", queue.name),
            ("LoggedIn", str(logged_in)),
            ("Available", str(available)),
            ("Callers", str(len(queue.entries))),
            ("HoldTime", str(queue.holdtime)),
            ("TalkTime", str(queue.talktime)),
            ("LongestHoldTime", str(longest)),
        ]
        items.append(action.item("QueueSummary", fields))
    _send_list(session, action, "Queue summary will follow", "QueueSummaryComplete", items)


def _send_list(
    session: Session, action: Action, message: str, done: str, items: list[Fields]
) -> None:
    session.send(action.list_start(message))
    for item in items:
        session.send(item)
    session.send(action.list_complete(done, len(items)))


async def queue_pause(pbx: Pbx, session: Session, action: Action) -> None:
    interface, paused_text = action.get("Interface"), action.get("Paused")
    if not interface or not paused_text:
        session.send(action.reply("Error", "Need 'Interface' and 'Paused' parameters."))
        return
    paused = paused_text.lower() in _TRUE
    targets = pause_targets(pbx, interface, action.get("Queue"))
    if not targets:
        session.send(action.reply("Error", "Interface not found"))
        return
    word = "paused" if paused else "unpaused"
    session.send(action.reply("Success", f"Interface {word} successfully"))
    set_paused(pbx, targets, paused, action.get("Reason"))


async def queue_add(pbx: Pbx, session: Session, action: Action) -> None:
    name, interface = action.get("Queue"), action.get("Interface")
    if not name or not interface:
        session.send(action.reply("Error", "'Queue' or 'Interface' not set."))
        return
    queue = pbx.queues.get(name)
    if queue is None:
        session.send(action.reply("Error", "Unable to add interface to queue: No such queue"))
        return
    if any(m.interface == interface for m in queue.members):
        session.send(action.reply("Error", "Unable to add interface: Already there"))
        return
    penalty = action.get("Penalty")
    cfg = MemberConfig(
        interface,
        action.get("MemberName") or interface,
        action.get("StateInterface"),
        int(penalty) if penalty.isdigit() else 0,
    )
    member = new_member(pbx, cfg, dynamic=True)
    member.paused = action.get("Paused").lower() in _TRUE
    member.reason = action.get("Reason") if member.paused else ""
    queue.members.append(member)
    session.send(action.reply("Success", "Added interface to queue"))
    state = "INUSE" if member.paused else "NOT_INUSE"
    pbx.devices.publish(f"Queue:{queue.name}_pause_{interface}", state, force=True)
    queue.emit_member("QueueMemberAdded", member)
    queue.refresh_avail(force=True)


async def queue_remove(pbx: Pbx, session: Session, action: Action) -> None:
    name, interface = action.get("Queue"), action.get("Interface")
    if not name or not interface:
        session.send(action.reply("Error", "Need 'Queue' and 'Interface' parameters."))
        return
    queue = pbx.queues.get(name)
    if queue is None:
        session.send(action.reply("Error", "Unable to remove interface from queue: No such queue"))
        return
    member = next((m for m in queue.members if m.interface == interface), None)
    if member is None:
        session.send(action.reply("Error", "Unable to remove interface: Not there"))
        return
    if not member.dynamic:
        session.send(action.reply("Error", "Member not dynamic"))
        return
    queue.members.remove(member)
    session.send(action.reply("Success", "Removed interface from queue"))
    queue.emit_member("QueueMemberRemoved", member)


HANDLERS: dict[str, PbxHandler] = {
    "queuestatus": queue_status,
    "queuesummary": queue_summary,
    "queuepause": queue_pause,
    "queueadd": queue_add,
    "queueremove": queue_remove,
}
