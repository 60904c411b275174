"""After a (re)connect: the PBX's state read again, set against the calls we knew.

Nothing is guessed: a call that vanished while the link was down ends when the link was lost,
with what is known of it (answered, or cut by a PBX restart, or "link-down" when its fate is
unknown), unless the PBX's queue log tells its end (cti.core.queue_story); a call answered
meanwhile gets its agent from the log or the bridged channel; the calls that came and went in the
gap are added from the log; the PBX's own counters cross-check what we could not see.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cti.core import observations as obs
from cti.core.call_book import CallBook, CallRecord, Emitted, remember
from cti.core.events import (
    CallQueued,
    Direction,
    EndSource,
    GapReport,
    Outcome,
    RingResult,
    UnloggedCalls,
)
from cti.core.queue_story import QueueStory, read_stories


class CallResync(CallBook):
    """The call book's side of a resync (CallTracker applies the observations)."""

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

    def _close_lost(
        self, call: CallRecord, event: obs.Resynced, story: QueueStory | None, out: Emitted
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

    def _answer_from(self, call: CallRecord, story: QueueStory, out: Emitted) -> None:
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

    def _end_from(self, call: CallRecord, story: QueueStory, out: Emitted) -> None:
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
        self, call: CallRecord, event: obs.Resynced, story: QueueStory | None, out: Emitted
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
        self, call: CallRecord, channels: tuple[obs.LiveChannel, ...]
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
        call = CallRecord(
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
        remember(self._hung_up, call.call_id)
        return call.call_id

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
