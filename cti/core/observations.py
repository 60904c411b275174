"""What a PBX tells us, in domain words: the input of the call and queue state model.

An adapter (cti.ami.translate for Asterisk) turns protocol messages into these. Units are already
fixed here: every duration is in seconds, every instant an aware UTC datetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    uniqueid: str
    linkedid: str
    name: str
    # The endpoint behind the channel ("PJSIP/1001" for "PJSIP/1001-0000002a"), as agents' devices
    # and queue members' state interfaces name it.
    device: str = ""
    state: int = 0
    caller_number: str = ""
    caller_name: str = ""
    connected_number: str = ""
    connected_name: str = ""
    context: str = ""
    exten: str = ""
    # The caller asked for their number not to be shown (presentation prohibited).
    withheld: bool = False


@dataclass(frozen=True, slots=True)
class Observation:
    pbx: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ChannelSeen(Observation):
    """A channel was created or changed state, caller id or connected line."""

    channel: ChannelInfo


@dataclass(frozen=True, slots=True)
class ChannelGone(Observation):
    channel: ChannelInfo
    cause: int
    cause_text: str


@dataclass(frozen=True, slots=True)
class DialStarted(Observation):
    caller_uniqueid: str
    dest: ChannelInfo
    dial_string: str


@dataclass(frozen=True, slots=True)
class DialEnded(Observation):
    caller_uniqueid: str
    dest: ChannelInfo
    status: str


@dataclass(frozen=True, slots=True)
class CallerJoined(Observation):
    queue: str
    caller: ChannelInfo
    position: int


@dataclass(frozen=True, slots=True)
class CallerLeft(Observation):
    queue: str
    caller_uniqueid: str


@dataclass(frozen=True, slots=True)
class CallerAbandoned(Observation):
    queue: str
    caller_uniqueid: str
    position: int
    original_position: int
    hold_seconds: float


@dataclass(frozen=True, slots=True)
class AgentRung(Observation):
    queue: str
    caller: ChannelInfo
    interface: str
    member_name: str
    agent_uniqueid: str


@dataclass(frozen=True, slots=True)
class AgentAnswered(Observation):
    queue: str
    caller_uniqueid: str
    interface: str
    member_name: str
    agent_uniqueid: str
    hold_seconds: float
    ring_seconds: float


@dataclass(frozen=True, slots=True)
class AgentNoAnswer(Observation):
    queue: str
    caller_uniqueid: str
    interface: str
    member_name: str
    agent_uniqueid: str
    ring_seconds: float


@dataclass(frozen=True, slots=True)
class AgentDumped(Observation):
    queue: str
    caller_uniqueid: str
    interface: str
    member_name: str


@dataclass(frozen=True, slots=True)
class AgentFinished(Observation):
    """End of a queue call's talk; `caller_uniqueid` is "" when the PBX left the channels out."""

    queue: str
    caller_uniqueid: str
    interface: str
    member_name: str
    hold_seconds: float
    talk_seconds: float
    reason: str


@dataclass(frozen=True, slots=True)
class MemberInfo:
    queue: str
    interface: str
    name: str
    state_interface: str
    # The endpoints a direct call to this agent would ring (state interface, member interface).
    devices: tuple[str, ...]
    dynamic: bool
    status: int
    paused: bool
    paused_reason: str
    wrapup_seconds: int
    calls_taken: int = 0


@dataclass(frozen=True, slots=True)
class MemberChanged(Observation):
    member: MemberInfo


@dataclass(frozen=True, slots=True)
class MemberRemoved(Observation):
    queue: str
    interface: str


@dataclass(frozen=True, slots=True)
class QueueResult(Observation):
    """The QUEUESTATUS the dialplan saw when Queue() returned without a connection."""

    caller_uniqueid: str
    status: str


@dataclass(frozen=True, slots=True)
class NumberDialled(Observation):
    """The number an outbound call was placed to, told on its first channel before it is dialled."""

    uniqueid: str
    number: str


@dataclass(frozen=True, slots=True)
class RecordingStarted(Observation):
    uniqueid: str
    filename: str


@dataclass(frozen=True, slots=True)
class QueueInfo:
    name: str
    strategy: str
    completed: int
    abandoned: int
    hold_seconds: float
    talk_seconds: float
    service_level_seconds: int


@dataclass(frozen=True, slots=True)
class WaitingCaller:
    queue: str
    caller: ChannelInfo
    position: int
    wait_seconds: float


@dataclass(frozen=True, slots=True)
class LiveChannel:
    channel: ChannelInfo
    seconds_up: float
    bridged: bool


@dataclass(frozen=True, slots=True)
class QueueRecord:
    """One line of the PBX's own queue log (Asterisk's queue_log): what happened to a queue call.

    `call_id` is the queue caller's channel id; `agent` the member's name; `data` the event's
    fields in order (ENTERQUEUE: url, caller number, position; CONNECT: hold seconds, agent
    channel, ring seconds; COMPLETECALLER/COMPLETEAGENT: hold, talk, position; ABANDON,
    EXITWITHTIMEOUT, EXITEMPTY: position, original position, wait; ...).
    """

    at: datetime
    call_id: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Resynced(Observation):
    """The PBX's current state read after a (re)connect: queues, members, callers, channels.

    `lost_at`: when the link before this one was lost (None at the first connect): calls that
    vanished since ended no later than the PBX restart, and no earlier than this. `records`: the
    PBX's queue log from `lost_at` on, when one is configured and could be read, else None.
    """

    queues: tuple[QueueInfo, ...]
    members: tuple[MemberInfo, ...]
    waiting: tuple[WaitingCaller, ...]
    channels: tuple[LiveChannel, ...]
    restarted: bool
    lost_at: datetime | None = None
    records: tuple[QueueRecord, ...] | None = None


@dataclass(frozen=True, slots=True)
class QueuesResynced(Observation):
    """The queues and their members read after a (re)connect when the PBX would not list its
    channels: the agents are known again; of the calls, only those the queue log (`records`, as
    in Resynced) says ended are closed, the others are left as they were."""

    queues: tuple[QueueInfo, ...]
    members: tuple[MemberInfo, ...]
    lost_at: datetime | None = None
    records: tuple[QueueRecord, ...] | None = None
