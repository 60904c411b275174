"""Queue members, agents and waiting callers: the live floor a supervisor watches.

An agent is a queue member interface, whatever queues it is in. Its state is derived, not
reported: Local-channel members never report RINGING (ground truth §0.3) and Asterisk has no
wrap-up event (§2.5), so ringing and talking come from the call events and wrap-up from the
queue's wrap-up time after AgentComplete.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Final

from cti.core import observations as obs
from cti.core.events import (
    AgentChanged,
    AgentSnapshot,
    AgentState,
    CallAnswered,
    CallEnded,
    CallEvent,
    CallRinging,
    GapReport,
    QueueChanged,
    QueueSnapshot,
    RingStopped,
    TalkEnded,
    WaitingEntry,
)

_IN_USE = frozenset({2, 3, 8})
_RINGING = frozenset({6, 7})
_UNAVAILABLE = frozenset({4, 5})
FloorEvent = AgentChanged | QueueChanged

# Sorting runs on every queue snapshot: a C getter instead of a lambda per caller.
_ENQUEUED_AT: Final = operator.attrgetter("enqueued_at")


@dataclass(slots=True)
class _Agent:
    interface: str
    name: str
    state_interface: str
    devices: tuple[str, ...]
    since: datetime
    status: int = 1
    paused: dict[str, bool] = field(default_factory=dict)
    paused_reason: str = ""
    wrapup: dict[str, int] = field(default_factory=dict)
    ringing: set[str] = field(default_factory=set)
    call_id: str = ""
    wrapup_until: datetime | None = None
    state: AgentState = AgentState.AVAILABLE

    def derive(self, now: datetime) -> AgentState:
        if self.ringing or self.status in _RINGING:
            return AgentState.RINGING
        if self.call_id or self.status in _IN_USE:
            return AgentState.IN_CALL
        if self.wrapup_until is not None and now < self.wrapup_until:
            return AgentState.WRAP_UP
        if self.paused and all(self.paused.values()):
            return AgentState.PAUSED
        if self.status in _UNAVAILABLE:
            return AgentState.UNAVAILABLE
        return AgentState.AVAILABLE


class Floor:
    """Agents and queues of one PBX. `wrapup_seconds` gives each queue's wrap-up time."""

    def __init__(self, pbx: str, wrapup_seconds: Mapping[str, int], devices: Iterable[str] = ()):
        self.pbx = pbx
        self._queue_wrapup = dict(wrapup_seconds)
        self._agents: dict[str, _Agent] = {}
        self._by_device: dict[str, str] = {}
        self._user_devices = frozenset(devices)
        self._waiting: dict[str, dict[str, WaitingEntry]] = {}
        self._members: dict[str, tuple[str, ...]] = {}
        # What was last announced, so only real changes are published.
        self._shown_agents: dict[str, AgentSnapshot] = {}
        self._shown_queues: dict[str, QueueSnapshot] = {}

    # Lookups -------------------------------------------------------------------------------

    def agent_of(self, device: str) -> tuple[str, str] | None:
        """The agent (interface, name) answering on a device, or the device of a known user."""
        interface = self._by_device.get(device)
        if interface is not None:
            return interface, self._agents[interface].name
        return (device, "") if device in self._user_devices else None

    def devices_of(self, interface: str) -> tuple[str, ...]:
        """The endpoints an agent interface answers on (itself, its state interface...)."""
        agent = self._agents.get(interface)
        return (interface,) if agent is None else (interface, *agent.devices)

    def agents(self, now: datetime) -> list[AgentSnapshot]:
        return [self._snapshot(a) for a in sorted(self._agents.values(), key=lambda a: a.name)]

    def queues(self) -> list[QueueSnapshot]:
        return [self._queue(name) for name in sorted(self._queue_names())]

    # Updates -------------------------------------------------------------------------------

    def apply(
        self, event: obs.Observation | None, calls: Iterable[CallEvent | GapReport], now: datetime
    ) -> list[FloorEvent]:
        agents: set[str] = set()
        queues: set[str] = set()
        if event is not None:
            self._observe(event, agents, queues)
        for call_event in calls:
            if isinstance(call_event, CallEvent):
                self._follow(call_event, agents, queues)
        return self._changes(agents, queues, now)

    def tick(self, now: datetime) -> list[FloorEvent]:
        """Ends wrap-ups that are due; the runtime calls this every second or so."""
        due = set()
        for interface, agent in self._agents.items():
            if agent.wrapup_until is not None and now >= agent.wrapup_until:
                agent.wrapup_until = None
                due.add(interface)
        return self._changes(due, set(), now)

    def _observe(self, event: obs.Observation, agents: set[str], queues: set[str]) -> None:
        match event:
            case obs.MemberChanged(member=member):
                self._member(member, event.at)
                agents.add(member.interface)
                queues.add(member.queue)
            case obs.MemberRemoved():
                self._remove_member(event.queue, event.interface)
                agents.add(event.interface)
                queues.add(event.queue)
            case obs.AgentFinished():
                agent = self._agents.get(event.interface)
                if agent is not None:
                    seconds = agent.wrapup.get(event.queue) or self._queue_wrapup.get(
                        event.queue, 0
                    )
                    agent.wrapup_until = event.at + timedelta(seconds=seconds) if seconds else None
                    agent.call_id = ""  # also when the call itself could not be matched
                    agents.add(event.interface)
            case obs.Resynced() | obs.QueuesResynced():
                queues |= self.resync(event)
                agents |= set(self._agents) | set(self._shown_agents)

    def _member(self, member: obs.MemberInfo, at: datetime) -> None:
        agent = self._agents.get(member.interface)
        if agent is None:
            agent = _Agent(
                member.interface, member.name, member.state_interface, member.devices, at
            )
            self._agents[member.interface] = agent
        agent.name = member.name or agent.name
        agent.state_interface = member.state_interface
        agent.devices = member.devices
        for device in member.devices:
            self._by_device[device] = member.interface
        agent.status = member.status
        agent.paused[member.queue] = member.paused
        self._set_member(member.queue, member.interface, True)
        agent.paused_reason = member.paused_reason if member.paused else ""
        agent.wrapup[member.queue] = member.wrapup_seconds
        self._waiting.setdefault(member.queue, {})

    def _remove_member(self, queue: str, interface: str) -> None:
        agent = self._agents.get(interface)
        if agent is None:
            return
        agent.paused.pop(queue, None)
        agent.wrapup.pop(queue, None)
        self._set_member(queue, interface, False)
        if not agent.paused:
            del self._agents[interface]
            for device in agent.devices:
                if self._by_device.get(device) == interface:
                    del self._by_device[device]

    def member_named(self, queue: str, name: str) -> str | None:
        """The interface of a queue's member called `name`, if exactly one is."""
        found = [a.interface for a in self._agents.values() if a.name == name and queue in a.paused]
        return found[0] if len(found) == 1 else None

    def resync(self, event: obs.Resynced | obs.QueuesResynced) -> set[str]:
        """Members as the PBX lists them now; the queues it has. Idempotent."""
        listed = {(m.queue, m.interface) for m in event.members}
        queues = {q.name for q in event.queues} | {m.queue for m in event.members}
        for interface, agent in list(self._agents.items()):
            for queue in list(agent.paused):
                if (queue, interface) not in listed:
                    self._remove_member(queue, interface)
        for member in event.members:
            self._member(member, event.at)
        for name in queues:
            self._waiting.setdefault(name, {})
        return queues

    def _follow(self, event: CallEvent, agents: set[str], queues: set[str]) -> None:
        call = event.call
        if isinstance(event, CallRinging | RingStopped | CallAnswered | TalkEnded):
            agents.add(event.interface)
        match event:
            case CallRinging(interface=interface):
                self._with_agent(interface, lambda a: a.ringing.add(call.call_id))
            case RingStopped(interface=interface):
                self._with_agent(interface, lambda a: a.ringing.discard(call.call_id))
            case CallAnswered(interface=interface):
                self._with_agent(interface, lambda a: _start_talk(a, call.call_id))
            case TalkEnded(interface=interface):
                self._with_agent(interface, lambda a: _stop_talk(a, call.call_id))
            case CallEnded():
                for agent in self._agents.values():
                    if call.call_id in agent.ringing or agent.call_id == call.call_id:
                        agent.ringing.discard(call.call_id)
                        _stop_talk(agent, call.call_id)
                        agents.add(agent.interface)
        if not call.queue:
            return
        waiting = self._waiting.setdefault(call.queue, {})
        if call.enqueued_at is not None and call.dequeued_at is None and call.ended_at is None:
            waiting[call.call_id] = WaitingEntry(
                call.call_id, call.number, call.name, call.enqueued_at
            )
        else:
            waiting.pop(call.call_id, None)
        queues.add(call.queue)

    def _with_agent(self, interface: str, change: Callable[[_Agent], object]) -> None:
        agent = self._agents.get(interface)
        if agent is not None:
            change(agent)

    # Snapshots and change detection -----------------------------------------------------

    def _queue_names(self) -> set[str]:
        return set(self._waiting)

    def _queue(self, name: str) -> QueueSnapshot:
        waiting = sorted(self._waiting.get(name, {}).values(), key=_ENQUEUED_AT)
        return QueueSnapshot(self.pbx, name, tuple(waiting), self._members.get(name, ()))

    def _set_member(self, queue: str, interface: str, present: bool) -> None:
        # Kept sorted per queue: a queue snapshot is taken on every caller change.
        members = set(self._members.get(queue, ()))
        if present == (interface in members):
            return
        if present:
            members.add(interface)
        else:
            members.discard(interface)
        self._members[queue] = tuple(sorted(members))

    def _snapshot(self, agent: _Agent) -> AgentSnapshot:
        return AgentSnapshot(
            pbx=self.pbx,
            interface=agent.interface,
            name=agent.name,
            state_interface=agent.state_interface,
            queues=tuple(sorted(agent.paused)),
            paused_queues=tuple(sorted(q for q, p in agent.paused.items() if p)),
            state=agent.state,
            since=agent.since,
            paused_reason=agent.paused_reason,
            call_id=agent.call_id or next(iter(sorted(agent.ringing)), ""),
        )

    def _changes(self, agents: set[str], queues: set[str], now: datetime) -> list[FloorEvent]:
        """Snapshots of the agents and queues touched, where they differ from the last shown."""
        out: list[FloorEvent] = []
        for interface in sorted(agents):
            agent = self._agents.get(interface)
            if agent is None:
                gone = self._shown_agents.pop(interface, None)
                if gone is not None:
                    out.append(AgentChanged(replace(gone, queues=(), state=AgentState.UNAVAILABLE)))
                continue
            state = agent.derive(now)
            if state is not agent.state:
                agent.state = state
                agent.since = now
            snapshot = self._snapshot(agent)
            if self._shown_agents.get(interface) != snapshot:
                self._shown_agents[interface] = snapshot
                out.append(AgentChanged(snapshot))
        for name in sorted(queues):
            queue = self._queue(name)
            if self._shown_queues.get(name) != queue:
                self._shown_queues[name] = queue
                out.append(QueueChanged(queue))
        return out


def _start_talk(agent: _Agent, call_id: str) -> None:
    agent.ringing.discard(call_id)
    agent.call_id = call_id
    agent.wrapup_until = None


def _stop_talk(agent: _Agent, call_id: str) -> None:
    if agent.call_id == call_id:
        agent.call_id = ""
