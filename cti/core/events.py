"""What the call and queue state model announces on the bus: calls, agents and queues changing.

Consumers (screen-pop, call log, wallboard) read these and nothing of the PBX protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Outcome(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    QUEUE_TIMEOUT = "queue-timeout"
    NO_AGENT = "no-agent"
    RING_NO_ANSWER = "ring-no-answer"
    BUSY = "busy"
    FAILED = "failed"
    # The PBX restarted or crashed with the call in it, before it was answered.
    PBX_RESTART = "pbx-restart"
    # Ended while the link was down, and nothing tells how: no outcome is guessed.
    LINK_DOWN = "link-down"


class EndSource(StrEnum):
    """How a call's end came to be known."""

    LIVE = ""
    # Not seen: it ended while the link was down; ended_at is when the link was lost.
    OUTAGE = "outage"
    # Read afterwards from the PBX's own queue log.
    QUEUE_LOG = "queue-log"


class RingResult(StrEnum):
    ANSWERED = "answered"
    NO_ANSWER = "no-answer"
    BUSY = "busy"
    FAILED = "failed"
    ANSWERED_ELSEWHERE = "answered-elsewhere"
    CALLER_LEFT = "caller-left"
    DUMPED = "dumped"
    # Still ringing when the link went down; how the ring ended was not seen.
    UNKNOWN = "unknown"


class AgentState(StrEnum):
    AVAILABLE = "available"
    RINGING = "ringing"
    IN_CALL = "in-call"
    WRAP_UP = "wrap-up"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class RingAttempt:
    interface: str
    member_name: str
    queue: str
    rung_at: datetime
    ended_at: datetime | None = None
    result: RingResult | None = None

    @property
    def ring_seconds(self) -> float | None:
        return None if self.ended_at is None else (self.ended_at - self.rung_at).total_seconds()


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    """A call as known at one moment; `number`/`name` are the remote party (caller or callee)."""

    pbx: str
    call_id: str
    linkedid: str
    direction: Direction
    number: str
    name: str
    # The caller withheld their number: agents see neither it nor the customer it matched.
    withheld: bool
    queue: str
    agent_interface: str
    agent_name: str
    started_at: datetime
    enqueued_at: datetime | None
    dequeued_at: datetime | None
    first_ring_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    outcome: Outcome | None
    hangup_cause: int | None
    end_reason: str
    recording: str
    attempts: tuple[RingAttempt, ...]
    abandon_position: int | None = None
    # The PBX's own whole-second counts (AgentConnect/QueueCallerAbandon HoldTime, AgentComplete
    # TalkTime): the figures Asterisk's queue statistics are made of.
    pbx_hold_seconds: int | None = None
    pbx_talk_seconds: int | None = None
    end_source: EndSource = EndSource.LIVE

    @property
    def wait_seconds(self) -> float | None:
        """Queue wait until answered or left; None for calls that never queued."""
        if self.enqueued_at is None:
            return None
        until = self.dequeued_at or self.ended_at
        return None if until is None else max((until - self.enqueued_at).total_seconds(), 0.0)

    @property
    def ring_seconds(self) -> float | None:
        """How long the answering agent's phone rang (the last ring for unanswered calls)."""
        answered = [a for a in self.attempts if a.result is RingResult.ANSWERED]
        chosen = answered[-1] if answered else (self.attempts[-1] if self.attempts else None)
        return None if chosen is None else chosen.ring_seconds

    @property
    def talk_seconds(self) -> float | None:
        if self.answered_at is None or self.ended_at is None:
            return None
        return max((self.ended_at - self.answered_at).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True)
class CallEvent:
    call: CallSnapshot


@dataclass(frozen=True, slots=True)
class CallQueued(CallEvent):
    pass


@dataclass(frozen=True, slots=True)
class QueueLeft(CallEvent):
    """The caller left the queue without an agent (abandoned or timed out)."""


@dataclass(frozen=True, slots=True)
class CallRinging(CallEvent):
    """An agent's phone rings for this call: the screen-pop trigger."""

    interface: str
    member_name: str


@dataclass(frozen=True, slots=True)
class CallDialled(CallEvent):
    """An agent's outbound call is dialling the customer: the calling agent's screen-pop trigger."""

    interface: str


@dataclass(frozen=True, slots=True)
class RingStopped(CallEvent):
    interface: str
    result: RingResult


@dataclass(frozen=True, slots=True)
class CallAnswered(CallEvent):
    interface: str


@dataclass(frozen=True, slots=True)
class TalkEnded(CallEvent):
    """The agent's part of a queue call is over (AgentComplete); wrap-up starts."""

    interface: str


@dataclass(frozen=True, slots=True)
class CallEnded(CallEvent):
    pass


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    pbx: str
    interface: str
    name: str
    state_interface: str
    queues: tuple[str, ...]
    paused_queues: tuple[str, ...]
    state: AgentState
    since: datetime
    paused_reason: str
    call_id: str


@dataclass(frozen=True, slots=True)
class AgentChanged:
    agent: AgentSnapshot


@dataclass(frozen=True, slots=True)
class WaitingEntry:
    call_id: str
    number: str
    name: str
    enqueued_at: datetime


@dataclass(frozen=True, slots=True)
class QueueSnapshot:
    pbx: str
    name: str
    waiting: tuple[WaitingEntry, ...]
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueueChanged:
    queue: QueueSnapshot


@dataclass(frozen=True, slots=True)
class UnloggedCalls:
    """Calls the PBX's own counters for a queue say ended during an outage, that no call of
    ours accounts for: the gap's calls nobody told us of."""

    queue: str
    completed: int
    abandoned: int


@dataclass(frozen=True, slots=True)
class GapReport:
    """What the resync after a lost link found. Each call of `ended` also got its CallEnded.

    `ended`: calls that ended while the link was down (`reconciled` of them told by the PBX's
    queue log, the others closed as of `lost_at`). `unlogged`: see UnloggedCalls; only when the
    PBX did not restart, which resets its counters.
    """

    pbx: str
    lost_at: datetime | None
    restarted: bool
    ended: tuple[str, ...]
    reconciled: int
    unlogged: tuple[UnloggedCalls, ...]
