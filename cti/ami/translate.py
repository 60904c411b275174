"""Asterisk AMI messages to domain observations: names, units and escapes fixed in one place.

Units (ground truth §0.5): HoldTime, TalkTime and AgentConnect's RingTime are seconds, but
AgentRingNoAnswer's RingTime is milliseconds. CallerIDName and ConnectedLineName arrive C-escaped.
Instants come from the event's Timestamp header when Asterisk sends one, else the receive time.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Final, TypedDict

from cti.ami.frames import AmiMessage, first, unescape_c
from cti.core import observations as obs

_CHANNEL_SUFFIX: Final = re.compile(r"-[0-9a-fA-F]{4,}(;[12])?$")
_HMS: Final = re.compile(r"^(\d+):(\d{2}):(\d{2})$")
# CID-CallingPres "35 (Presentation Prohibited, Network Number)": bits 0x60 of the number say
# allowed (0x00), prohibited (0x20) or unavailable (0x40); the low bits are only screening.
_PRESENTATION: Final = 0x60
_PROHIBITED: Final = 0x20
# The channel variables it reads from VarSet: how Queue() ended, MixMonitor's file, and the number
# a click-to-dial asked for (set on the Originate, so known even if the agent never answers).
QUEUE_RESULT: Final = "QUEUESTATUS"
RECORDING_FILE: Final = "MIXMONITOR_FILENAME"
DIALLED: Final = "CTI_DIALLED"
VARIABLES: Final = (QUEUE_RESULT, RECORDING_FILE, DIALLED)


def device_of_channel(name: str) -> str:
    """The endpoint of a channel: `PJSIP/1001-0000002a` -> `PJSIP/1001`.

    `Local/agent1@agents-0000001e;1` -> `Local/agent1@agents`.
    """
    return _CHANNEL_SUFFIX.sub("", name)


def device_of_interface(interface: str) -> str:
    """A member interface without dial options: `Local/agent1@agents/n` -> `Local/agent1@agents`."""
    if interface.startswith("Local/") and interface.count("/") > 1:
        return interface.rsplit("/", 1)[0]
    return interface


def _int(message: AmiMessage, key: str, default: int = 0) -> int:
    try:
        return int(first(message, key))
    except ValueError:
        return default


def _seconds(message: AmiMessage, key: str) -> float:
    try:
        return max(float(first(message, key)), 0.0)
    except ValueError:
        return 0.0


class _AgentFields(TypedDict):
    queue: str
    caller_uniqueid: str
    interface: str
    member_name: str


def _agent_fields(message: AmiMessage) -> _AgentFields:
    """What every Agent* event says: the queue, the caller's channel and the member."""
    return {
        "queue": first(message, "Queue"),
        "caller_uniqueid": first(message, "Uniqueid"),
        "interface": first(message, "Interface"),
        "member_name": first(message, "MemberName"),
    }


def _prohibited(message: AmiMessage) -> bool:
    """Only NewCallerid carries the presentation (ground truth §2.2)."""
    code = first(message, "CID-CallingPres").partition(" ")[0]
    return code.isdigit() and int(code) & _PRESENTATION == _PROHIBITED


def channel_info(message: AmiMessage, prefix: str = "") -> obs.ChannelInfo | None:
    uniqueid = first(message, f"{prefix}Uniqueid")
    if not uniqueid:
        return None
    name = first(message, f"{prefix}Channel")
    return obs.ChannelInfo(
        uniqueid=uniqueid,
        linkedid=first(message, f"{prefix}Linkedid") or uniqueid,
        name=name,
        device=device_of_channel(name),
        state=_int(message, f"{prefix}ChannelState"),
        caller_number=first(message, f"{prefix}CallerIDNum"),
        caller_name=unescape_c(first(message, f"{prefix}CallerIDName")),
        connected_number=first(message, f"{prefix}ConnectedLineNum"),
        connected_name=unescape_c(first(message, f"{prefix}ConnectedLineName")),
        context=first(message, f"{prefix}Context"),
        exten=first(message, f"{prefix}Exten"),
        withheld=not prefix and _prohibited(message),
    )


def member_info(message: AmiMessage) -> obs.MemberInfo:
    """From QueueMemberStatus/Added/Pause events and from QueueStatus's QueueMember items."""
    interface = first(message, "Interface") or first(message, "Location")
    state_interface = first(message, "StateInterface") or interface
    devices = tuple(dict.fromkeys((state_interface, device_of_interface(interface))))
    return obs.MemberInfo(
        queue=first(message, "Queue"),
        interface=interface,
        name=first(message, "MemberName") or first(message, "Name") or interface,
        state_interface=state_interface,
        devices=devices,
        dynamic=first(message, "Membership") == "dynamic",
        status=_int(message, "Status"),
        paused=first(message, "Paused") == "1",
        paused_reason=first(message, "PausedReason"),
        wrapup_seconds=_int(message, "Wrapuptime"),
        calls_taken=_int(message, "CallsTaken"),
    )


def queue_info(message: AmiMessage) -> obs.QueueInfo:
    return obs.QueueInfo(
        name=first(message, "Queue"),
        strategy=first(message, "Strategy"),
        completed=_int(message, "Completed"),
        abandoned=_int(message, "Abandoned"),
        hold_seconds=_seconds(message, "Holdtime"),
        talk_seconds=_seconds(message, "TalkTime"),
        service_level_seconds=_int(message, "ServiceLevel"),
    )


def waiting_caller(message: AmiMessage) -> obs.WaitingCaller | None:
    caller = channel_info(message)
    if caller is None:
        return None
    return obs.WaitingCaller(
        queue=first(message, "Queue"),
        caller=caller,
        position=_int(message, "Position"),
        wait_seconds=_seconds(message, "Wait"),
    )


def live_channel(message: AmiMessage) -> obs.LiveChannel | None:
    channel = channel_info(message)
    if channel is None:
        return None
    match = _HMS.match(first(message, "Duration"))
    seconds = 0.0
    if match:
        hours, minutes, secs = (int(g) for g in match.groups())
        seconds = float(hours * 3600 + minutes * 60 + secs)
    return obs.LiveChannel(channel, seconds, bridged=bool(first(message, "BridgeId")))


class Translator:
    """Turns one PBX's event messages into observations; unknown or useless events give None."""

    def __init__(self, pbx: str) -> None:
        self.pbx = pbx
        self._handlers: dict[str, Callable[[AmiMessage, datetime], obs.Observation | None]] = {
            "Newchannel": self._channel_seen,
            "Newstate": self._channel_seen,
            "NewCallerid": self._channel_seen,
            "NewConnectedLine": self._channel_seen,
            "Hangup": self._hangup,
            "DialBegin": self._dial_begin,
            "DialEnd": self._dial_end,
            "QueueCallerJoin": self._caller_join,
            "QueueCallerLeave": self._caller_leave,
            "QueueCallerAbandon": self._caller_abandon,
            "AgentCalled": self._agent_called,
            "AgentConnect": self._agent_connect,
            "AgentRingNoAnswer": self._agent_ring_no_answer,
            "AgentComplete": self._agent_complete,
            "AgentDump": self._agent_dump,
            "QueueMemberStatus": self._member,
            "QueueMemberAdded": self._member,
            "QueueMemberPause": self._member,
            "QueueMemberPenalty": self._member,
            "QueueMemberRinginuse": self._member,
            "QueueMemberRemoved": self._member_removed,
            "VarSet": self._var_set,
        }

    @property
    def events(self) -> frozenset[str]:
        """The event names it reads."""
        return frozenset(self._handlers)

    def wanted(self, event_name: str) -> bool:
        return event_name in self._handlers

    def translate(self, message: AmiMessage, received_at: datetime) -> obs.Observation | None:
        handler = self._handlers.get(first(message, "Event"))
        if handler is None:
            return None
        return handler(message, self.instant(message, received_at))

    @staticmethod
    def instant(message: AmiMessage, received_at: datetime) -> datetime:
        stamp = first(message, "Timestamp")
        if stamp:
            try:
                return datetime.fromtimestamp(float(stamp), UTC)
            except (ValueError, OverflowError, OSError):
                pass
        return received_at

    def _channel_seen(self, message: AmiMessage, at: datetime) -> obs.Observation | None:
        channel = channel_info(message)
        return None if channel is None else obs.ChannelSeen(self.pbx, at, channel)

    def _hangup(self, message: AmiMessage, at: datetime) -> obs.Observation | None:
        channel = channel_info(message)
        if channel is None:
            return None
        return obs.ChannelGone(
            self.pbx, at, channel, _int(message, "Cause"), first(message, "Cause-txt")
        )

    def _dial_begin(self, message: AmiMessage, at: datetime) -> obs.Observation | None:
        dest = channel_info(message, "Dest")
        if dest is None:
            return None
        return obs.DialStarted(
            self.pbx, at, first(message, "Uniqueid"), dest, first(message, "DialString")
        )

    def _dial_end(self, message: AmiMessage, at: datetime) -> obs.Observation | None:
        dest = channel_info(message, "Dest")
        if dest is None:
            return None
        return obs.DialEnded(
            self.pbx, at, first(message, "Uniqueid"), dest, first(message, "DialStatus")
        )

    def _caller_join(self, message: AmiMessage, at: datetime) -> obs.Observation | None:
        caller = channel_info(message)
        if caller is None:
            return None
        return obs.CallerJoined(
            self.pbx, at, first(message, "Queue"), caller, _int(message, "Position")
        )

    def _caller_leave(self, message: AmiMessage, at: datetime) -> obs.Observation:
        return obs.CallerLeft(self.pbx, at, first(message, "Queue"), first(message, "Uniqueid"))

    def _caller_abandon(self, message: AmiMessage, at: datetime) -> obs.Observation:
        return obs.CallerAbandoned(
            self.pbx,
            at,
            queue=first(message, "Queue"),
            caller_uniqueid=first(message, "Uniqueid"),
            position=_int(message, "Position"),
            original_position=_int(message, "OriginalPosition"),
            hold_seconds=_seconds(message, "HoldTime"),
        )

    def _agent_called(self, message: AmiMessage, at: datetime) -> obs.Observation | None:
        caller = channel_info(message)
        if caller is None:
            return None
        return obs.AgentRung(
            self.pbx,
            at,
            queue=first(message, "Queue"),
            caller=caller,
            interface=first(message, "Interface"),
            member_name=first(message, "MemberName"),
            agent_uniqueid=first(message, "DestUniqueid"),
        )

    def _agent_connect(self, message: AmiMessage, at: datetime) -> obs.Observation:
        return obs.AgentAnswered(
            self.pbx,
            at,
            **_agent_fields(message),
            agent_uniqueid=first(message, "DestUniqueid"),
            hold_seconds=_seconds(message, "HoldTime"),
            ring_seconds=_seconds(message, "RingTime"),
        )

    def _agent_ring_no_answer(self, message: AmiMessage, at: datetime) -> obs.Observation:
        return obs.AgentNoAnswer(
            self.pbx,
            at,
            **_agent_fields(message),
            agent_uniqueid=first(message, "DestUniqueid"),
            ring_seconds=_seconds(message, "RingTime") / 1000.0,
        )

    def _agent_complete(self, message: AmiMessage, at: datetime) -> obs.Observation:
        return obs.AgentFinished(
            self.pbx,
            at,
            **_agent_fields(message),
            hold_seconds=_seconds(message, "HoldTime"),
            talk_seconds=_seconds(message, "TalkTime"),
            reason=first(message, "Reason"),
        )

    def _agent_dump(self, message: AmiMessage, at: datetime) -> obs.Observation:
        return obs.AgentDumped(
            self.pbx,
            at,
            **_agent_fields(message),
        )

    def _member(self, message: AmiMessage, at: datetime) -> obs.Observation:
        return obs.MemberChanged(self.pbx, at, member_info(message))

    def _member_removed(self, message: AmiMessage, at: datetime) -> obs.Observation:
        return obs.MemberRemoved(self.pbx, at, first(message, "Queue"), first(message, "Interface"))

    def _var_set(self, message: AmiMessage, at: datetime) -> obs.Observation | None:
        variable = first(message, "Variable")
        uniqueid = first(message, "Uniqueid")
        if variable == QUEUE_RESULT:
            return obs.QueueResult(self.pbx, at, uniqueid, unescape_c(first(message, "Value")))
        if variable == RECORDING_FILE:
            return obs.RecordingStarted(self.pbx, at, uniqueid, unescape_c(first(message, "Value")))
        if variable == DIALLED:
            return obs.NumberDialled(self.pbx, at, uniqueid, unescape_c(first(message, "Value")))
        return None
