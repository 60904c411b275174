"""Calls and their legs, built from observations: who was rung, who answered, how it ended.

A call is every channel sharing a Linkedid; its id is the Uniqueid of its first channel. Events
may arrive in any order across channels (ground truth §1.5), so every step is idempotent and a
missing step (an AgentComplete without channel fields, a Hangup that never comes because the PBX
restarted) has a fallback.

After a lost link nothing is guessed: a call that vanished meanwhile ends when the link was lost,
with what is known of it (answered, or cut by a PBX restart, or "link-down" when its fate is
unknown), unless the PBX's queue log tells its end (cti.core.gap).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from cti.core import observations as obs
from cti.core.events import (
    CallAnswered,
    CallDialled,
    CallEnded,
    CallEvent,
    CallQueued,
    CallRinging,
    CallSnapshot,
    Direction,
    EndSource,
    GapReport,
    Outcome,
    QueueLeft,
    RingAttempt,
    RingResult,
    RingStopped,
    TalkEnded,
    UnloggedCalls,
)
from cti.core.queue_story import QueueStory, read_stories

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
# Calls kept after their end for an AgentComplete that comes after the last Hangup (§0.4).
ENDED_MEMORY = 256
AgentOfDevice = Callable[[str], tuple[str, str] | None]
MemberNamed = Callable[[str, str], str | None]
Emitted = list[CallEvent | GapReport]


@dataclass(slots=True)
class _Call:
    call_id: str
    linkedid: str
    direction: Direction
    started_at: datetime
    first_channel: str
    number: str = ""
    name: str = ""
    withheld: bool = False
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
    # When AgentComplete said the talk was over (the Hangups follow it).
    talk_ended_at: datetime | None = None
    # Answered while the link was down: answered_at is a bound until AgentComplete times it.
    answer_estimated: bool = False
    end_source: EndSource = EndSource.LIVE
    queue_result: str = ""
    last_dial_status: str = ""
    hangup_cause: int | None = None
    end_reason: str = ""
    recording: str = ""
    outcome: Outcome | None = None
    # Rung by an Originate (a DialBegin without a caller), and the customer's leg dialled.
    originated: bool = False
    dialled: bool = False
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
            withheld=self.withheld,
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
            end_source=self.end_source,
        )

    def open_attempt(self, interface: str) -> int | None:
        for index in range(len(self.attempts) - 1, -1, -1):
            attempt = self.attempts[index]
            if attempt.interface == interface and attempt.result is None:
                return index
        return None


def _known(value: str) -> str:
    return "" if value in _UNKNOWN_IDS else value


def _remember(memory: dict[str, None], key: str) -> None:
    """Keep `key` among the last HUNG_UP_MEMORY remembered."""
    memory[key] = None
    if len(memory) > HUNG_UP_MEMORY:
        del memory[next(iter(memory))]


class CallTracker:
    """Live calls of one PBX. `agent_of(device)` names the agent (interface, name) of a device;
    `member_named(queue, name)` the interface of a queue's member by name."""

    def __init__(
        self,
        pbx: str,
        agent_of: AgentOfDevice,
        member_named: MemberNamed = lambda queue, name: None,
    ) -> None:
        self.pbx = pbx
        self._agent_of = agent_of
        self._member_named = member_named
        self._calls: dict[str, _Call] = {}
        self._by_channel: dict[str, str] = {}
        self._by_linkedid: dict[str, str] = {}
        self._talking: dict[tuple[str, str], str] = {}
        # Answered calls that ended, by (queue, agent interface), until AgentComplete comes.
        self._ended_talking: dict[tuple[str, str], _Call] = {}
        # Channels already hung up: Asterisk may still send a NewConnectedLine for one after its
        # Hangup, which must not bring it back.
        self._hung_up: dict[str, None] = {}
        # Linkedids of calls a resync found gone: their events still in flight are history.
        self._closed_links: dict[str, None] = {}
        # Per queue, the PBX's completed and abandoned counters at the last resync, and the
        # completions and abandons seen since: after an outage the difference is what we missed.
        self._pbx_counters: dict[str, tuple[int, int]] = {}
        self._seen_counts: dict[str, list[int]] = {}

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
            case obs.NumberDialled():
                call = self._call_of(event.uniqueid)
                if call is not None and call.direction is Direction.OUTBOUND and not call.number:
                    call.number = event.number
            case obs.Resynced():
                self._resynced(event, out)
            case obs.QueuesResynced():
                self._queues_resynced(event, out)
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
                if channel.linkedid in self._closed_links:
                    return None  # late news of a call the resync found gone
                call = self._new_call(channel, at)
            call.channels.add(channel.uniqueid)
            self._by_channel[channel.uniqueid] = call.call_id
        elif channel.linkedid and channel.linkedid != call.linkedid:
            # A bridge merged calls and this channel adopted an older Linkedid (§2.3).
            self._by_linkedid.setdefault(channel.linkedid, call.call_id)
        if channel.uniqueid == call.first_channel and call.answered_at is None:
            self._take_party(call, channel)
        if channel.withheld and call.direction is Direction.INBOUND:
            # Any leg may tell it: Asterisk showed it only on the agent's leg (withheld.jsonl).
            # An outbound call's legs carry the center's own presentation, not the customer's.
            call.withheld = True
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
        _remember(self._hung_up, channel.uniqueid)
        call = self._call_of(channel.uniqueid)
        if call is None:
            return
        if channel.uniqueid in (call.first_channel, call.caller_uniqueid):
            call.hangup_cause = cause
        call.channels.discard(channel.uniqueid)
        del self._by_channel[channel.uniqueid]
        if not call.channels:
            self._end(call, at, out)

    def _end(
        self,
        call: _Call,
        at: datetime,
        out: Emitted,
        outcome: Outcome | None = None,
        open_rings: RingResult = RingResult.CALLER_LEFT,
    ) -> None:
        call.ended_at = at
        self._stop_rings(call, at, open_rings, out)
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
            self._ended_talking[key] = call
            if len(self._ended_talking) > ENDED_MEMORY:
                del self._ended_talking[next(iter(self._ended_talking))]
        out.append(CallEnded(call.snapshot(self.pbx)))

    def _stop_rings(self, call: _Call, at: datetime, result: RingResult, out: Emitted) -> None:
        for index, attempt in enumerate(call.attempts):
            if attempt.result is None:
                call.attempts[index] = replace(attempt, ended_at=at, result=result)
                out.append(RingStopped(call.snapshot(self.pbx), attempt.interface, result))

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
        if call.originated and not call.last_dial_status:
            # An Originate whose ring timed out ends with no DialEnd at all (dial.c's
            # handle_timeout_trip): nobody answered the first leg.
            return Outcome.RING_NO_ANSWER
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
        self._count(event.queue, abandoned=1)
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
        self._stop_rings(call, at, RingResult.CALLER_LEFT, out)

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
        if call is None or (call.answered_at is not None and not call.answer_estimated):
            return
        # A resync that found the call bridged came first: this is when it was answered.
        announce = not call.answer_estimated
        if call.answer_estimated:
            call.answer_estimated = False
            call.dequeued_at = None
        elif call.open_attempt(event.interface) is None:
            # Joined after a resync that missed the AgentCalled: the ring started RingTime ago.
            rung_at = event.at - timedelta(seconds=event.ring_seconds)
            call.attempts.append(
                RingAttempt(event.interface, event.member_name, event.queue, rung_at)
            )
        self._answer(call, event.queue, event.interface, event.member_name, event.at, out, announce)
        call.pbx_hold_seconds = int(event.hold_seconds)

    def _answer(
        self,
        call: _Call,
        queue: str,
        interface: str,
        name: str,
        at: datetime,
        out: Emitted,
        announce: bool = True,
    ) -> None:
        """The queue connected the caller to this agent at `at`."""
        index = call.open_attempt(interface)
        if index is not None:
            call.attempts[index] = replace(
                call.attempts[index], ended_at=at, result=RingResult.ANSWERED
            )
            out.append(RingStopped(call.snapshot(self.pbx), interface, RingResult.ANSWERED))
        self._stop_rings(call, at, RingResult.ANSWERED_ELSEWHERE, out)
        call.answered_at = at
        if call.dequeued_at is None or call.dequeued_at > at:
            call.dequeued_at = at
        call.agent_interface = interface
        call.agent_name = name or call.agent_name
        self._talking[(queue, interface)] = call.call_id
        if announce:
            out.append(CallAnswered(call.snapshot(self.pbx), interface))

    def _finished(self, event: obs.AgentFinished, out: Emitted) -> None:
        self._count(event.queue, completed=1)
        key = (event.queue, event.interface)
        call_id = self._by_channel.get(event.caller_uniqueid) if event.caller_uniqueid else None
        # AgentComplete may come without channel fields: match the open AgentConnect (§0.4).
        call_id = call_id or self._talking.get(key)
        self._talking.pop(key, None)
        call = self._calls.get(call_id) if call_id else None
        if call is None:
            # It may come after the call's last Hangup too: it still times the call's talk.
            call = self._ended_talking.pop(key, None)
            if call is None or call.pbx_talk_seconds is not None:
                return
        elif call.answered_at is None or call.answer_estimated:
            # Answered while the link was down: AgentComplete times the answer to the second.
            answered_at = event.at - timedelta(seconds=event.talk_seconds)
            if not call.queue:
                enqueued_at = answered_at - timedelta(seconds=event.hold_seconds)
                caller = event.caller_uniqueid or call.caller_uniqueid
                self._enqueue(call, event.queue, caller, enqueued_at)
            if call.answer_estimated:
                call.dequeued_at = None
            announce = not call.answer_estimated
            call.answer_estimated = False
            self._answer(
                call, event.queue, event.interface, event.member_name, answered_at, out, announce
            )
            call.pbx_hold_seconds = int(event.hold_seconds)
        self._ended_talking.pop(key, None)
        call.end_reason = event.reason
        call.pbx_talk_seconds = int(event.talk_seconds)
        call.talk_ended_at = event.at
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
            if call.direction is Direction.OUTBOUND:
                self._customer_dialled(call, event, out)
            return
        if agent[0] == call.agent_interface and call.direction is Direction.OUTBOUND:
            call.originated = call.originated or not event.caller_uniqueid
            return
        if call.open_attempt(agent[0]) is None:
            call.attempts.append(RingAttempt(agent[0], agent[1], "", event.at))
            out.append(CallRinging(call.snapshot(self.pbx), agent[0], agent[1]))

    def _customer_dialled(self, call: _Call, event: obs.DialStarted, out: Emitted) -> None:
        if not call.number:
            call.number = _known(event.dest.caller_number) or event.dest.exten
        if call.agent_interface and not call.dialled:
            call.dialled = True
            out.append(CallDialled(call.snapshot(self.pbx), call.agent_interface))

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
        links = {live.channel.linkedid for live in event.channels}
        stories = read_stories(event.records or ())
        # A call goes on while any channel of it does, an unknown one too (a transfer).
        lost = [
            c for c in self._calls.values() if not (c.channels & present or c.linkedid in links)
        ]
        ended: list[str] = []
        told = 0
        for call in lost:
            story = stories.pop(call.caller_uniqueid, None) if call.caller_uniqueid else None
            self._forget_channels(call)
            told += self._close_lost(call, event, story, out)
            ended.append(call.call_id)
        for call in list(self._calls.values()):
            for uniqueid in call.channels - present:
                call.channels.discard(uniqueid)
                self._by_channel.pop(uniqueid, None)
        for live in sorted(event.channels, key=lambda c: -c.seconds_up):
            self._seen(live.channel, event.at - timedelta(seconds=live.seconds_up))
        for waiting in event.waiting:
            queued = self._call_of(waiting.caller.uniqueid)
            if queued is not None and not queued.queue:
                enqueued_at = event.at - timedelta(seconds=waiting.wait_seconds)
                self._enqueue(queued, waiting.queue, waiting.caller.uniqueid, enqueued_at)
                out.append(CallQueued(queued.snapshot(self.pbx)))
        bridged = {live.channel.uniqueid for live in event.channels if live.bridged}
        for call in list(self._calls.values()):
            # Connected to an agent while we were away (or before we knew of the call).
            if call.answered_at is None and call.channels & bridged:
                story = next((stories[c] for c in call.channels if c in stories), None)
                self._answered_unseen(call, event, story, out)
        self._report_gap(event, stories, ended, told, out)

    def _queues_resynced(self, event: obs.QueuesResynced, out: Emitted) -> None:
        """Without the PBX's list of channels, which calls are still up is unknown: only those
        the queue log says ended are closed."""
        stories = read_stories(event.records or ())
        ended: list[str] = []
        for call in list(self._calls.values()):
            story = stories.pop(call.caller_uniqueid, None) if call.caller_uniqueid else None
            if story is not None and story.ended_at is not None and story.outcome is not None:
                self._forget_channels(call)
                self._end_from(call, story, out)
                ended.append(call.call_id)
        self._report_gap(event, stories, ended, len(ended), out)

    def _report_gap(
        self,
        event: obs.Resynced | obs.QueuesResynced,
        stories: dict[str, QueueStory],
        ended: list[str],
        told: int,
        out: Emitted,
    ) -> None:
        """Add the calls only the queue log knows of, cross-check the PBX's counters, report."""
        if event.lost_at is not None:
            for story in stories.values():
                if self._unseen_call(story, event.lost_at):
                    ended.append(self._close_unseen_call(story, out))
                    told += 1
        unlogged = self._check_counters(event)
        restarted = isinstance(event, obs.Resynced) and event.restarted
        if ended or unlogged:
            out.append(
                GapReport(self.pbx, event.lost_at, restarted, tuple(ended), told, tuple(unlogged))
            )

    def _forget_channels(self, call: _Call) -> None:
        """A call closed without its Hangups: what is still on its way about it is history."""
        for uniqueid in call.channels:
            _remember(self._hung_up, uniqueid)
        _remember(self._closed_links, call.linkedid)

    def _close_lost(
        self, call: _Call, event: obs.Resynced, story: QueueStory | None, out: Emitted
    ) -> int:
        """End a call that vanished while the link was down; 1 if the queue log told how."""
        if story is not None and story.connected_at is not None and call.answered_at is None:
            self._answer_from(call, story, out)
        if call.talk_ended_at is not None:
            # AgentComplete came before the cut: the call was over, its Hangups were lost.
            self._end(call, call.talk_ended_at, out)
            return 0
        if story is not None and story.ended_at is not None and story.outcome is not None:
            self._end_from(call, story, out)
            return 1
        lost_at = event.lost_at or event.at
        call.end_source = EndSource.OUTAGE
        if call.answered_at is not None:
            outcome = Outcome.ANSWERED
            call.end_reason = Outcome.PBX_RESTART.value if event.restarted else ""
        else:
            outcome = Outcome.PBX_RESTART if event.restarted else Outcome.LINK_DOWN
        self._end(call, max(lost_at, call.started_at), out, outcome, RingResult.UNKNOWN)
        return 0

    def _enqueue(self, call: _Call, queue: str, caller: str, at: datetime | None) -> None:
        call.queue = queue
        call.caller_uniqueid = caller
        call.direction = Direction.INBOUND
        call.enqueued_at = at

    def _answer_from(self, call: _Call, story: QueueStory, out: Emitted) -> None:
        assert story.connected_at is not None
        if not call.queue:
            self._enqueue(call, story.queue, story.call_id, story.entered_at)
            call.number = call.number or story.number
        interface = self._member_named(story.queue, story.agent) or ""
        call.answer_estimated = False
        if call.dequeued_at is not None and call.answered_at is None:
            call.dequeued_at = None
        call.answered_at = None
        self._answer(call, story.queue, interface, story.agent, story.connected_at, out)
        call.pbx_hold_seconds = story.hold_seconds

    def _end_from(self, call: _Call, story: QueueStory, out: Emitted) -> None:
        """End a call as the queue log tells it."""
        assert story.ended_at is not None
        call.end_source = EndSource.QUEUE_LOG
        if story.outcome is Outcome.ANSWERED:
            call.end_reason = story.end_reason
            call.pbx_talk_seconds = story.talk_seconds
            call.pbx_hold_seconds = story.hold_seconds
            self._count(story.queue, completed=1)
        else:
            if not call.abandoned:
                self._count(story.queue, abandoned=1)
            call.abandon_position = story.position
            call.pbx_hold_seconds = story.hold_seconds
            if call.dequeued_at is None:
                call.dequeued_at = max(story.ended_at, call.enqueued_at or story.ended_at)
        ended_at = max(story.ended_at, call.answered_at or call.started_at)
        self._end(call, ended_at, out, story.outcome)

    def _answered_unseen(
        self, call: _Call, event: obs.Resynced, story: QueueStory | None, out: Emitted
    ) -> None:
        """A call found bridged at resync was answered while we were away: by whom, when."""
        if story is not None and story.connected_at is not None:
            self._answer_from(call, story, out)
            return
        found = self._agent_leg(call, event.channels)
        if found is None:
            call.answered_at = event.at
            if call.enqueued_at is not None and call.dequeued_at is None:
                call.dequeued_at = event.at
            return
        (interface, name), leg = found
        # The agent's leg was created when it started ringing: the answer came after that.
        answered_at = max(event.at - timedelta(seconds=leg.seconds_up), call.started_at)
        self._answer(call, call.queue, interface, name, answered_at, out)
        call.answer_estimated = True

    def _agent_leg(
        self, call: _Call, channels: tuple[obs.LiveChannel, ...]
    ) -> tuple[tuple[str, str], obs.LiveChannel] | None:
        """The agent on the other side of a call's bridge, from the PBX's list of channels."""
        for live in channels:
            channel = live.channel
            if (
                live.bridged
                and channel.linkedid == call.linkedid
                and channel.uniqueid not in (call.first_channel, call.caller_uniqueid)
            ):
                agent = self._agent_of(channel.device)
                if agent is not None:
                    return agent, live
        return None

    def _unseen_call(self, story: QueueStory, lost_at: datetime) -> bool:
        """A queue call that came and went while the link was down: only its log tells of it."""
        return (
            story.entered_at is not None
            and story.entered_at >= lost_at.replace(microsecond=0)
            and story.call_id not in self._hung_up
            and story.call_id not in self._by_channel
            and story.ended_at is not None
        )

    def _close_unseen_call(self, story: QueueStory, out: Emitted) -> str:
        assert story.entered_at is not None
        call = _Call(
            call_id=story.call_id,
            linkedid=story.call_id,
            direction=Direction.INBOUND,
            started_at=story.entered_at,
            first_channel=story.call_id,
            number=story.number,
            queue=story.queue,
            caller_uniqueid=story.call_id,
            enqueued_at=story.entered_at,
        )
        self._calls[call.call_id] = call
        if story.connected_at is not None:
            self._answer_from(call, story, out)
        self._end_from(call, story, out)
        _remember(self._hung_up, call.call_id)
        return call.call_id

    def _count(self, queue: str, completed: int = 0, abandoned: int = 0) -> None:
        counts = self._seen_counts.setdefault(queue, [0, 0])
        counts[0] += completed
        counts[1] += abandoned

    def _check_counters(self, event: obs.Resynced | obs.QueuesResynced) -> list[UnloggedCalls]:
        """Calls the PBX counted since the last resync that we did not: the gap's unknowns."""
        unlogged = []
        if not (isinstance(event, obs.Resynced) and event.restarted):
            for queue in event.queues:
                before = self._pbx_counters.get(queue.name)
                if before is None:
                    continue
                seen = self._seen_counts.get(queue.name, [0, 0])
                completed = queue.completed - before[0] - seen[0]
                abandoned = queue.abandoned - before[1] - seen[1]
                if completed > 0 or abandoned > 0:
                    unlogged.append(UnloggedCalls(queue.name, max(completed, 0), max(abandoned, 0)))
        self._pbx_counters = {q.name: (q.completed, q.abandoned) for q in event.queues}
        self._seen_counts.clear()
        return unlogged
