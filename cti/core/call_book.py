"""The calls of one PBX as records: channels to calls, answers, rings and ends.

The primitives that live events (cti.core.calls) and resyncs (cti.core.call_resync) both work
with. A call is every channel sharing a Linkedid; its id is the Uniqueid of its first channel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from cti.core import observations as obs
from cti.core.events import (
    CallAnswered,
    CallEnded,
    CallEvent,
    CallSnapshot,
    Direction,
    EndSource,
    GapReport,
    Outcome,
    RingAttempt,
    RingResult,
    RingStopped,
)

_NO_AGENT_RESULTS = frozenset({"JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL", "FULL"})
_DIAL_OUTCOMES = {
    "NOANSWER": Outcome.RING_NO_ANSWER,
    "BUSY": Outcome.BUSY,
    "CHANUNAVAIL": Outcome.FAILED,
    "CONGESTION": Outcome.FAILED,
    "CANCEL": Outcome.ABANDONED,
}
_UNKNOWN_IDS = frozenset({"", "<unknown>", "unknown"})

# How many hung-up channels and closed calls are remembered, to ignore late news of them.
HUNG_UP_MEMORY = 4096
# Calls kept after their end for an AgentComplete that comes after the last Hangup (§0.4).
ENDED_MEMORY = 256
AgentOfDevice = Callable[[str], tuple[str, str] | None]
MemberNamed = Callable[[str, str], str | None]
Emitted = list[CallEvent | GapReport]


@dataclass(slots=True)
class CallRecord:
    """One call while it lasts, as the model keeps it; `snapshot` is what it announces."""

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


def known(value: str) -> str:
    return "" if value in _UNKNOWN_IDS else value


def remember(memory: dict[str, None], key: str) -> None:
    """Keep `key` among the last HUNG_UP_MEMORY remembered."""
    memory[key] = None
    if len(memory) > HUNG_UP_MEMORY:
        del memory[next(iter(memory))]


class CallBook:
    """The calls of one PBX. `agent_of(device)` names the agent (interface, name) of a device;
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
        self._calls: dict[str, CallRecord] = {}
        self._by_channel: dict[str, str] = {}
        self._by_linkedid: dict[str, str] = {}
        self._talking: dict[tuple[str, str], str] = {}
        # Answered calls that ended, by (queue, agent interface), until AgentComplete comes.
        self._ended_talking: dict[tuple[str, str], CallRecord] = {}
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

    def _call_of(self, uniqueid: str) -> CallRecord | None:
        call_id = self._by_channel.get(uniqueid)
        return None if call_id is None else self._calls.get(call_id)

    def _seen(self, channel: obs.ChannelInfo, at: datetime) -> CallRecord | None:
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

    def _new_call(self, channel: obs.ChannelInfo, at: datetime) -> CallRecord:
        agent = self._agent_of(channel.device)
        call = CallRecord(
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

    def _take_party(self, call: CallRecord, channel: obs.ChannelInfo) -> None:
        if call.direction is Direction.INBOUND:
            call.number = known(channel.caller_number) or call.number
            call.name = known(channel.caller_name) or call.name

    def _end(
        self,
        call: CallRecord,
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

    def _stop_rings(self, call: CallRecord, at: datetime, result: RingResult, out: Emitted) -> None:
        for index, attempt in enumerate(call.attempts):
            if attempt.result is None:
                call.attempts[index] = replace(attempt, ended_at=at, result=result)
                out.append(RingStopped(call.snapshot(self.pbx), attempt.interface, result))

    @staticmethod
    def _outcome(call: CallRecord) -> Outcome:
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

    def _ring_end(
        self, caller_uniqueid: str, interface: str, result: RingResult, at: datetime, out: Emitted
    ) -> CallRecord | None:
        call = self._call_of(caller_uniqueid)
        if call is None:
            return None
        index = call.open_attempt(interface)
        if index is None:
            return call
        call.attempts[index] = replace(call.attempts[index], ended_at=at, result=result)
        out.append(RingStopped(call.snapshot(self.pbx), interface, result))
        return call

    def _answer(
        self,
        call: CallRecord,
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

    def _enqueue(self, call: CallRecord, queue: str, caller: str, at: datetime | None) -> None:
        call.queue = queue
        call.caller_uniqueid = caller
        call.direction = Direction.INBOUND
        call.enqueued_at = at

    def _forget_channels(self, call: CallRecord) -> None:
        """A call closed without its Hangups: what is still on its way about it is history."""
        for uniqueid in call.channels:
            remember(self._hung_up, uniqueid)
        remember(self._closed_links, call.linkedid)

    def _count(self, queue: str, completed: int = 0, abandoned: int = 0) -> None:
        counts = self._seen_counts.setdefault(queue, [0, 0])
        counts[0] += completed
        counts[1] += abandoned
