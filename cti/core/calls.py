"""Calls and their legs, built from observations: who was rung, who answered, how it ended.

A call is every channel sharing a Linkedid; its id is the Uniqueid of its first channel. Events
may arrive in any order across channels (ground truth §1.5), so every step is idempotent and a
missing step (an AgentComplete without channel fields, a Hangup that never comes because the PBX
restarted) has a fallback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from cti.core import observations as obs
from cti.core.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallQueued,
    CallRinging,
    CallsLost,
    CallSnapshot,
    Direction,
    Outcome,
    QueueLeft,
    RingAttempt,
    RingResult,
    RingStopped,
    TalkEnded,
)

_NO_AGENT_RESULTS = frozenset({"JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL", "FULL"})
_DIAL_RESULTS = {
    "ANSWER": RingResult.ANSWERED,
    "NOANSWER": RingResult.NO_ANSWER,
    "BUSY": RingResult.BUSY,
    "CANCEL": RingResult.CALLER_LEFT,
    "CHANUNAVAIL": RingResult.FAILED,
    "CONGESTION": RingResult.FAILED,
}
_DIAL_OUTCOMES = {
    "NOANSWER": Outcome.RING_NO_ANSWER,
    "BUSY": Outcome.BUSY,
    "CHANUNAVAIL": Outcome.FAILED,
    "CONGESTION": Outcome.FAILED,
    "CANCEL": Outcome.ABANDONED,
}
_UNKNOWN_IDS = frozenset({"", "<unknown>", "unknown"})

HUNG_UP_MEMORY = 4096
AgentOfDevice = Callable[[str], tuple[str, str] | None]
Emitted = list[CallEvent | CallsLost]


@dataclass(slots=True)
class _Call:
    call_id: str
    linkedid: str
    direction: Direction
    started_at: datetime
    first_channel: str
    number: str = ""
    name: str = ""
    queue: str = ""
    caller_uniqueid: str = ""
    agent_interface: str = ""
    agent_name: str = ""
    enqueued_at: datetime | None = None
    dequeued_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    abandoned: bool = False
    abandon_position: int | None = None
    pbx_hold_seconds: int | None = None
    pbx_talk_seconds: int | None = None
    queue_result: str = ""
    last_dial_status: str = ""
    hangup_cause: int | None = None
    end_reason: str = ""
    recording: str = ""
    outcome: Outcome | None = None
    channels: set[str] = field(default_factory=set)
    attempts: list[RingAttempt] = field(default_factory=list)

    def snapshot(self, pbx: str) -> CallSnapshot:
        return CallSnapshot(
            pbx=pbx,
            call_id=self.call_id,
            linkedid=self.linkedid,
            direction=self.direction,
            number=self.number,
            name=self.name,
            queue=self.queue,
            agent_interface=self.agent_interface,
            agent_name=self.agent_name,
            started_at=self.started_at,
            enqueued_at=self.enqueued_at,
            dequeued_at=self.dequeued_at,
            first_ring_at=self.attempts[0].rung_at if self.attempts else None,
            answered_at=self.answered_at,
            ended_at=self.ended_at,
            outcome=self.outcome,
            hangup_cause=self.hangup_cause,
            end_reason=self.end_reason,
            recording=self.recording,
            attempts=tuple(self.attempts),
            abandon_position=self.abandon_position,
            pbx_hold_seconds=self.pbx_hold_seconds,
            pbx_talk_seconds=self.pbx_talk_seconds,
        )

    def open_attempt(self, interface: str) -> int | None:
        for index in range(len(self.attempts) - 1, -1, -1):
            attempt = self.attempts[index]
            if attempt.interface == interface and attempt.result is None:
                return index
        return None


def _known(value: str) -> str:
    return "" if value in _UNKNOWN_IDS else value


class CallTracker:
    """Live calls of one PBX. `agent_of(device)` names the agent (interface, name) of a device."""

    def __init__(self, pbx: str, agent_of: AgentOfDevice) -> None:
        self.pbx = pbx
        self._agent_of = agent_of
        self._calls: dict[str, _Call] = {}
        self._by_channel: dict[str, str] = {}
        self._by_linkedid: dict[str, str] = {}
        self._talking: dict[tuple[str, str], str] = {}
        # Channels already hung up: Asterisk may still send a NewConnectedLine for one after its
        # Hangup, which must not bring it back.
        self._hung_up: dict[str, None] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def live(self) -> list[CallSnapshot]:
        return [call.snapshot(self.pbx) for call in self._calls.values()]

    def get(self, call_id: str) -> CallSnapshot | None:
        call = self._calls.get(call_id)
        return None if call is None else call.snapshot(self.pbx)

    def apply(self, event: obs.Observation) -> Emitted:  # noqa: C901 - one branch per observation
        out: Emitted = []
        match event:
            case obs.ChannelSeen(channel=channel):
                self._seen(channel, event.at)
            case obs.ChannelGone(channel=channel):
                self._gone(channel, event.cause, event.at, out)
            case obs.CallerJoined():
                self._joined(event, out)
            case obs.CallerAbandoned():
                self._abandoned(event, out)
            case obs.CallerLeft():
                self._left(event, out)
            case obs.AgentRung():
                self._rung(event, out)
            case obs.AgentAnswered():
                self._answered(event, out)
            case obs.AgentNoAnswer():
                self._ring_end(
                    event.caller_uniqueid, event.interface, RingResult.NO_ANSWER, event.at, out
                )
            case obs.AgentDumped():
                self._ring_end(
                    event.caller_uniqueid, event.interface, RingResult.DUMPED, event.at, out
                )
            case obs.AgentFinished():
                self._finished(event, out)
            case obs.DialStarted():
                self._dial_started(event, out)
            case obs.DialEnded():
                self._dial_ended(event, out)
            case obs.QueueResult():
                call = self._call_of(event.caller_uniqueid)
                if call is not None:
                    call.queue_result = event.status
            case obs.RecordingStarted():
                call = self._call_of(event.uniqueid)
                if call is not None and not call.recording:
                    call.recording = event.filename
            case obs.Resynced():
                self._resynced(event, out)
        return out

    # Channels ------------------------------------------------------------------------------

    def _call_of(self, uniqueid: str) -> _Call | None:
        call_id = self._by_channel.get(uniqueid)
        return None if call_id is None else self._calls.get(call_id)

    def _seen(self, channel: obs.ChannelInfo, at: datetime) -> _Call | None:
        if channel.uniqueid in self._hung_up:
            return None
        call = self._call_of(channel.uniqueid)
        if call is None:
            call_id = self._by_linkedid.get(channel.linkedid)
            call = self._calls.get(call_id) if call_id else None
            if call is None:
                call = self._new_call(channel, at)
            call.channels.add(channel.uniqueid)
            self._by_channel[channel.uniqueid] = call.call_id
        elif channel.linkedid and channel.linkedid != call.linkedid:
            # A bridge merged calls and this channel adopted an older Linkedid (§2.3).
            self._by_linkedid.setdefault(channel.linkedid, call.call_id)
        if channel.uniqueid == call.first_channel and call.answered_at is None:
            self._take_party(call, channel)
        return call

    def _new_call(self, channel: obs.ChannelInfo, at: datetime) -> _Call:
        agent = self._agent_of(channel.device)
        call = _Call(
            call_id=channel.uniqueid,
            linkedid=channel.linkedid or channel.uniqueid,
            direction=Direction.OUTBOUND if agent else Direction.INBOUND,
            started_at=at,
            first_channel=channel.uniqueid,
        )
        if agent:
            call.agent_interface, call.agent_name = agent
        self._calls[call.call_id] = call
        self._by_linkedid[call.linkedid] = call.call_id
        return call

    def _take_party(self, call: _Call, channel: obs.ChannelInfo) -> None:
        if call.direction is Direction.INBOUND:
            call.number = _known(channel.caller_number) or call.number
            call.name = _known(channel.caller_name) or call.name

    def _gone(self, channel: obs.ChannelInfo, cause: int, at: datetime, out: Emitted) -> None:
        call = self._call_of(channel.uniqueid)
        if call is None:
            return
        if channel.uniqueid in (call.first_channel, call.caller_uniqueid):
            call.hangup_cause = cause
        call.channels.discard(channel.uniqueid)
        del self._by_channel[channel.uniqueid]
        self._hung_up[channel.uniqueid] = None
        if len(self._hung_up) > HUNG_UP_MEMORY:
            del self._hung_up[next(iter(self._hung_up))]
        if not call.channels:
            self._end(call, at, out)

    def _end(self, call: _Call, at: datetime, out: Emitted, outcome: Outcome | None = None) -> None:
        call.ended_at = at
        for index, attempt in enumerate(call.attempts):
            if attempt.result is None:
                call.attempts[index] = replace(attempt, ended_at=at, result=RingResult.CALLER_LEFT)
                out.append(
                    RingStopped(call.snapshot(self.pbx), attempt.interface, RingResult.CALLER_LEFT)
                )
        if call.enqueued_at is not None and call.dequeued_at is None:
            call.dequeued_at = at
            call.abandoned = call.answered_at is None
        call.outcome = outcome or self._outcome(call)
        del self._calls[call.call_id]
        for uniqueid in call.channels:
            self._by_channel.pop(uniqueid, None)
        for linkedid in [k for k, v in self._by_linkedid.items() if v == call.call_id]:
            del self._by_linkedid[linkedid]
        for key in [k for k, v in self._talking.items() if v == call.call_id]:
            del self._talking[key]
        out.append(CallEnded(call.snapshot(self.pbx)))

    @staticmethod
    def _outcome(call: _Call) -> Outcome:
        if call.answered_at is not None:
            return Outcome.ANSWERED
        if call.queue:
            # Asterisk 22 sends QueueCallerAbandon on a queue timeout too; only the QUEUESTATUS
            # that Queue() returns with (a VarSet) tells the two apart.
            if call.queue_result == "TIMEOUT":
                return Outcome.QUEUE_TIMEOUT
            if call.queue_result in _NO_AGENT_RESULTS:
                return Outcome.NO_AGENT
            return Outcome.ABANDONED if call.abandoned else Outcome.QUEUE_TIMEOUT
        if call.last_dial_status in _DIAL_OUTCOMES:
            return _DIAL_OUTCOMES[call.last_dial_status]
        return Outcome.ABANDONED if call.direction is Direction.INBOUND else Outcome.FAILED

    # Queue -------------------------------------------------------------------------------

    def _joined(self, event: obs.CallerJoined, out: Emitted) -> None:
        call = self._seen(event.caller, event.at)
        if call is None or (call.queue == event.queue and call.dequeued_at is None):
            return
        call.queue = event.queue
        call.caller_uniqueid = event.caller.uniqueid
        call.direction = Direction.INBOUND
        call.number = _known(event.caller.caller_number) or call.number
        call.name = _known(event.caller.caller_name) or call.name
        call.enqueued_at = event.at
        call.dequeued_at = None
        out.append(CallQueued(call.snapshot(self.pbx)))

    def _abandoned(self, event: obs.CallerAbandoned, out: Emitted) -> None:
        call = self._call_of(event.caller_uniqueid)
        if call is None or call.answered_at is not None:
            return
        call.abandoned = True
        call.abandon_position = event.original_position
        call.pbx_hold_seconds = int(event.hold_seconds)
        self._dequeue(call, event.at, out)

    def _left(self, event: obs.CallerLeft, out: Emitted) -> None:
        call = self._call_of(event.caller_uniqueid)
        if call is not None and call.answered_at is None:
            # Left without an agent: abandoned (seen just before) or timed out. For an answered
            # call Leave comes before AgentConnect, so the dequeue time is kept there instead.
            if call.abandoned or not any(a.result is None for a in call.attempts):
                self._dequeue(call, event.at, out)
            elif call.dequeued_at is None:
                call.dequeued_at = event.at

    def _dequeue(self, call: _Call, at: datetime, out: Emitted) -> None:
        if call.dequeued_at is None:
            call.dequeued_at = at
            out.append(QueueLeft(call.snapshot(self.pbx)))
        for index, attempt in enumerate(call.attempts):
            if attempt.result is None:
                call.attempts[index] = replace(attempt, ended_at=at, result=RingResult.CALLER_LEFT)
                out.append(
                    RingStopped(call.snapshot(self.pbx), attempt.interface, RingResult.CALLER_LEFT)
                )

    def _rung(self, event: obs.AgentRung, out: Emitted) -> None:
        call = self._seen(event.caller, event.at)
        if call is None or call.open_attempt(event.interface) is not None:
            return
        if not call.queue:
            call.queue = event.queue
        call.attempts.append(RingAttempt(event.interface, event.member_name, event.queue, event.at))
        if event.agent_uniqueid:
            self._by_channel.setdefault(event.agent_uniqueid, call.call_id)
            call.channels.add(event.agent_uniqueid)
        out.append(CallRinging(call.snapshot(self.pbx), event.interface, event.member_name))

    def _ring_end(
        self, caller_uniqueid: str, interface: str, result: RingResult, at: datetime, out: Emitted
    ) -> _Call | None:
        call = self._call_of(caller_uniqueid)
        if call is None:
            return None
        index = call.open_attempt(interface)
        if index is None:
            return call
        call.attempts[index] = replace(call.attempts[index], ended_at=at, result=result)
        out.append(RingStopped(call.snapshot(self.pbx), interface, result))
        return call

    def _answered(self, event: obs.AgentAnswered, out: Emitted) -> None:
        call = self._call_of(event.caller_uniqueid)
        if call is None or call.answered_at is not None:
            return
        if call.open_attempt(event.interface) is None:
            # Joined after a resync that missed the AgentCalled: the ring started RingTime ago.
            rung_at = event.at - timedelta(seconds=event.ring_seconds)
            call.attempts.append(
                RingAttempt(event.interface, event.member_name, event.queue, rung_at)
            )
        self._ring_end(event.caller_uniqueid, event.interface, RingResult.ANSWERED, event.at, out)
        for attempt in list(call.attempts):
            if attempt.result is None:
                self._ring_end(
                    event.caller_uniqueid,
                    attempt.interface,
                    RingResult.ANSWERED_ELSEWHERE,
                    event.at,
                    out,
                )
        call.answered_at = event.at
        if call.dequeued_at is None:
            call.dequeued_at = event.at
        call.agent_interface = event.interface
        call.agent_name = event.member_name
        call.pbx_hold_seconds = int(event.hold_seconds)
        self._talking[(event.queue, event.interface)] = call.call_id
        out.append(CallAnswered(call.snapshot(self.pbx), event.interface))

    def _finished(self, event: obs.AgentFinished, out: Emitted) -> None:
        call_id = self._by_channel.get(event.caller_uniqueid) if event.caller_uniqueid else None
        # AgentComplete may come without channel fields: match the open AgentConnect (§0.4).
        call_id = call_id or self._talking.get((event.queue, event.interface))
        self._talking.pop((event.queue, event.interface), None)
        call = self._calls.get(call_id) if call_id else None
        if call is None:
            return
        call.end_reason = event.reason
        call.pbx_talk_seconds = int(event.talk_seconds)
        out.append(TalkEnded(call.snapshot(self.pbx), event.interface))

    # Dials outside queues (direct calls to an agent, outbound calls) -----------------------

    def _dial_started(self, event: obs.DialStarted, out: Emitted) -> None:
        call = self._call_of(event.caller_uniqueid) if event.caller_uniqueid else None
        dest_call = self._seen(event.dest, event.at)
        call = call or dest_call
        if call is None:
            return
        if call.queue and event.caller_uniqueid == call.caller_uniqueid:
            return
        agent = self._agent_of(event.dest.device)
        if agent is None:
            if call.direction is Direction.OUTBOUND and not call.number:
                call.number = _known(event.dest.caller_number) or event.dest.exten
            return
        if agent[0] == call.agent_interface and call.direction is Direction.OUTBOUND:
            return
        if call.open_attempt(agent[0]) is None:
            call.attempts.append(RingAttempt(agent[0], agent[1], "", event.at))
            out.append(CallRinging(call.snapshot(self.pbx), agent[0], agent[1]))

    def _dial_ended(self, event: obs.DialEnded, out: Emitted) -> None:
        call = self._call_of(event.dest.uniqueid)
        if call is None:
            return
        if call.queue and event.caller_uniqueid == call.caller_uniqueid:
            # The queue's own ring: AgentRingNoAnswer follows a busy phone too, only the dial
            # status says it was busy rather than unanswered.
            agent = self._agent_of(event.dest.device)
            if agent is not None and event.status in ("BUSY", "CHANUNAVAIL", "CONGESTION"):
                result = _DIAL_RESULTS[event.status]
                self._ring_end(call.caller_uniqueid, agent[0], result, event.at, out)
            return
        agent = self._agent_of(event.dest.device)
        call.last_dial_status = event.status
        if agent is not None and call.open_attempt(agent[0]) is not None:
            result = _DIAL_RESULTS.get(event.status, RingResult.FAILED)
            self._ring_end(event.dest.uniqueid, agent[0], result, event.at, out)
            if result is RingResult.ANSWERED and call.answered_at is None:
                call.answered_at = event.at
                call.agent_interface, call.agent_name = agent
                out.append(CallAnswered(call.snapshot(self.pbx), agent[0]))
        elif event.status == "ANSWER" and event.caller_uniqueid and call.answered_at is None:
            call.answered_at = event.at
            out.append(CallAnswered(call.snapshot(self.pbx), call.agent_interface))

    # Resync --------------------------------------------------------------------------------

    def _resynced(self, event: obs.Resynced, out: Emitted) -> None:
        present = {live.channel.uniqueid for live in event.channels}
        lost = [c for c in self._calls.values() if not (c.channels & present)]
        for call in lost:
            self._end(call, event.at, out, Outcome.PBX_RESTART if event.restarted else None)
        if lost:
            out.append(CallsLost(self.pbx, tuple(c.call_id for c in lost), event.restarted))
        for call in list(self._calls.values()):
            for uniqueid in call.channels - present:
                call.channels.discard(uniqueid)
                self._by_channel.pop(uniqueid, None)
        for live in sorted(event.channels, key=lambda c: -c.seconds_up):
            known = self._call_of(live.channel.uniqueid)
            found = self._seen(live.channel, event.at - timedelta(seconds=live.seconds_up))
            if found and known is None and live.bridged and found.answered_at is None:
                found.answered_at = event.at
        for waiting in event.waiting:
            queued = self._call_of(waiting.caller.uniqueid)
            if queued is not None and not queued.queue:
                queued.queue = waiting.queue
                queued.caller_uniqueid = waiting.caller.uniqueid
                queued.direction = Direction.INBOUND
                queued.enqueued_at = event.at - timedelta(seconds=waiting.wait_seconds)
                out.append(CallQueued(queued.snapshot(self.pbx)))
