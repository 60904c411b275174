"""Calls and their legs, built from observations: who was rung, who answered, how it ended.

Events may arrive in any order across channels (ground truth §1.5), so every step is idempotent
and a missing step (an AgentComplete without channel fields, a Hangup that never comes because
the PBX restarted) has a fallback. What a resync reads is handled in cti.core.call_resync.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cti.core import observations as obs
from cti.core.call_book import CallRecord, Emitted, known, remember
from cti.core.call_resync import CallResync
from cti.core.events import (
    CallAnswered,
    CallDialled,
    CallQueued,
    CallRinging,
    Direction,
    QueueLeft,
    RingAttempt,
    RingResult,
    TalkEnded,
)

_DIAL_RESULTS = {
    "ANSWER": RingResult.ANSWERED,
    "NOANSWER": RingResult.NO_ANSWER,
    "BUSY": RingResult.BUSY,
    "CANCEL": RingResult.CALLER_LEFT,
    "CHANUNAVAIL": RingResult.FAILED,
    "CONGESTION": RingResult.FAILED,
}


class CallTracker(CallResync):
    """Live calls of one PBX, as its events tell them."""

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

    def _gone(self, channel: obs.ChannelInfo, cause: int, at: datetime, out: Emitted) -> None:
        remember(self._hung_up, channel.uniqueid)
        call = self._call_of(channel.uniqueid)
        if call is None:
            return
        if channel.uniqueid in (call.first_channel, call.caller_uniqueid):
            call.hangup_cause = cause
        call.channels.discard(channel.uniqueid)
        del self._by_channel[channel.uniqueid]
        if not call.channels:
            self._end(call, at, out)

    def _joined(self, event: obs.CallerJoined, out: Emitted) -> None:
        call = self._seen(event.caller, event.at)
        if call is None or (call.queue == event.queue and call.dequeued_at is None):
            return
        call.queue = event.queue
        call.caller_uniqueid = event.caller.uniqueid
        call.direction = Direction.INBOUND
        call.number = known(event.caller.caller_number) or call.number
        call.name = known(event.caller.caller_name) or call.name
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

    def _dequeue(self, call: CallRecord, at: datetime, out: Emitted) -> None:
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

    def _customer_dialled(self, call: CallRecord, event: obs.DialStarted, out: Emitted) -> None:
        if not call.number:
            call.number = known(event.dest.caller_number) or event.dest.exten
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
