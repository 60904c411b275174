"""Queue(): a caller waits, members are rung per the strategy, the first to answer is bridged.

The event order follows the captures: AgentCalled just before each DialBegin; on a ring timeout
AgentRingNoAnswer (RingTime in ms) then DialEnd NOANSWER and CANCEL; a busy member gets DialEnd BUSY
and AgentRingNoAnswer with whole seconds, and the next member rings at once; ringall losers get
DialEnd CANCEL twice and hang up with cause 26; QueueCallerLeave precedes AgentConnect; a caller who
leaves (hangs up or times out) gets QueueCallerAbandon before QueueCallerLeave.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from cti.sim import bridges, dial
from cti.sim import channels as ch
from cti.sim.channels import Channel
from cti.sim.dialplan import Result
from cti.sim.queues import Entry, Member, QueueState
from cti.sim.wire import Fields

if TYPE_CHECKING:
    from cti.sim.pbx import Pbx

# wait_our_turn() looks again at the queue once a second.
POLL = 1.0


@dataclass(slots=True)
class Ring:
    leg: Channel
    member: Member
    started: float


async def queue_app(pbx: Pbx, chan: Channel, data: str) -> Result:
    args = data.split(",")
    queue = pbx.queues.get(args[0])
    if queue is None:
        return "next"
    timeout = float(args[4]) if len(args) > 4 and args[4] else 0.0
    return await QueueCall(pbx, queue, chan, timeout).run()


class QueueCall:
    def __init__(self, pbx: Pbx, queue: QueueState, chan: Channel, timeout: float) -> None:
        self.pbx = pbx
        self.queue = queue
        self.chan = chan
        self.entry: Entry = queue.join(chan)
        self.deadline = self.entry.joined + timeout if timeout > 0 else None
        self.log("NONE", "ENTERQUEUE", "", chan.cid_num, self.entry.original_position)

    def log(self, agent: str, event: str, *data: str | int) -> None:
        if not self.pbx.muted:  # a PBX going down writes nothing more
            self.pbx.queue_log.write(self.queue.name, self.chan.uniqueid, agent, event, *data)

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - self.pbx.clock.now()

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    async def pause(self, seconds: float) -> None:
        left = self.remaining()
        wait = seconds if left is None else max(0.0, min(seconds, left))
        await self.pbx.clock.first([self.chan.hangup_requested], wait)

    async def run(self) -> Result:
        clock, queue = self.pbx.clock, self.queue
        while True:
            if self.chan.ending:
                return self.leave_unanswered("")
            if self.expired():
                return self.leave_unanswered("TIMEOUT")
            now = clock.now()
            members = queue.candidates(self.entry, now) if queue.is_turn(self.entry, now) else []
            if not members:
                await self.pause(POLL)
                continue
            answered = await self.attempt(members)
            if answered is not None:
                result = await self.talk(answered)
                if result is not None:
                    return result
            if not self.chan.ending and not self.expired():
                await self.pause(self.queue.config.retry)

    def leave_unanswered(self, status: str) -> Result:
        holdtime = self.held()
        ch.set_var(self.pbx, self.chan, "ABANDONED", "TRUE")
        self.queue.abandon_event(self.entry, holdtime)
        event = "EXITWITHTIMEOUT" if status == "TIMEOUT" else "ABANDON"
        where = self.queue.position(self.entry)
        self.log("NONE", event, where, self.entry.original_position, holdtime)
        position = self.queue.leave(self.entry)
        ch.set_var(self.pbx, self.chan, "QUEUEPOSITION", str(position))
        if not status:
            return "stop"
        ch.set_var(self.pbx, self.chan, "QUEUESTATUS", status)
        return "next"

    def held(self) -> int:
        return int(self.pbx.clock.now()) - int(self.entry.joined)

    def ring(self, member: Member) -> Ring | None:
        pbx, chan = self.pbx, self.chan
        leg = dial.request(pbx, member.interface, "AppQueue", chan, (chan.cid_num, chan.cid_name))
        if leg is None:
            return None
        self.queue.rang(self.entry, member)
        pbx.pending.add(member.state_interface)
        leg.exten = chan.exten
        fields = [*chan.snapshot(), *leg.snapshot("Dest"), *self.member_id(member)]
        pbx.emit("AgentCalled", "agent", fields)
        ch.dial_event(pbx, "DialBegin", chan, leg, [("DialString", member.interface)])
        chan.cdr.dial_begin(pbx.clock.now(), leg)
        return Ring(leg, member, pbx.clock.now())

    def member_id(self, member: Member) -> list[tuple[str, str]]:
        return [
            ("Queue", self.queue.name),
            ("Interface", member.interface),
            ("MemberName", member.name),
        ]

    def dial_end(self, ring: Ring, *statuses: str) -> None:
        pbx, leg = self.pbx, ring.leg
        for status in statuses:
            ch.dial_event(pbx, "DialEnd", self.chan, leg, [("DialStatus", status)])
        self.chan.cdr.dial_end(pbx.clock.now(), leg, statuses[0])

    def hang(self, ring: Ring, cause: int) -> None:
        """The queue drops a leg it will not bridge: its ;1 hangs up with `cause`."""
        self.pbx.pending.discard(ring.member.state_interface)
        ch.request_hangup(self.pbx, ring.leg, cause, announce=False)
        ch.hangup(self.pbx, ring.leg)
        if ring.leg.answered_at is None:
            # app_queue updates the dead leg's connected line last (every capture shows it).
            ch.set_connected(self.pbx, ring.leg, self.chan.cid_num, self.chan.cid_name)

    def no_answer(self, ring: Ring, ms: int) -> None:
        fields = [*self.chan.snapshot(), *ring.leg.snapshot("Dest"), *self.member_id(ring.member)]
        self.pbx.emit("AgentRingNoAnswer", "agent", [*fields, ("RingTime", str(ms))])
        self.log(ring.member.name, "RINGNOANSWER", ms)

    async def attempt(self, members: list[Member]) -> Ring | None:
        """One round of ringing; the answering ring, or None once every leg failed."""
        pbx, clock = self.pbx, self.pbx.clock
        waiting = list(members)
        rings: list[Ring] = []
        self.ring_more(rings, waiting)
        self.entry.ringing = True
        left = self.remaining()
        limit = float(self.queue.config.timeout)
        deadline = clock.now() + (limit if left is None else min(limit, left))
        try:
            while rings:
                legs = [r.leg for r in rings]
                await dial.await_answer(pbx, legs, self.chan, deadline - clock.now())
                if self.chan.ending:
                    for r in rings:
                        self.dial_end(r, "CANCEL", "CANCEL")
                        self.hang(r, 0)
                    return None
                for r in list(rings):
                    status = dial.outcome(r.leg)
                    if status == "ANSWER":
                        return self.answered(r, [o for o in rings if o is not r])
                    if r.leg.ending or status == "BUSY":
                        rings.remove(r)
                        self.failed(r, status)
                        self.ring_more(rings, waiting)
                if rings and clock.now() >= deadline:
                    for r in rings:
                        self.no_answer(r, round((clock.now() - r.started) * 1000))
                        self.dial_end(r, "NOANSWER", "CANCEL")
                        self.hang(r, 0)
                    return None
            return None
        finally:
            self.entry.ringing = False

    def ring_more(self, rings: list[Ring], waiting: list[Member]) -> None:
        """Ring the next member (every member for ringall) still free to be rung."""
        ringall = self.queue.config.strategy == "ringall"
        while waiting and (ringall or not rings):
            member = waiting.pop(0)
            # Checked again: since the round began another caller may have rung the member.
            if not self.queue.can_ring(member, self.pbx.clock.now()):
                continue
            started = self.ring(member)
            if started is not None:
                rings.append(started)

    def failed(self, ring: Ring, status: str) -> None:
        """Busy, or the leg hung up before answering: RingTime in whole seconds (app_queue.c)."""
        ms = (int(self.pbx.clock.now()) - int(ring.started)) * 1000
        if status == "BUSY":
            self.dial_end(ring, "BUSY")
            self.no_answer(ring, ms)
        else:
            self.no_answer(ring, ms)
            self.dial_end(ring, "NOANSWER")
        self.hang(ring, 0)

    def answered(self, ring: Ring, losers: list[Ring]) -> Ring:
        pbx, chan, leg = self.pbx, self.chan, ring.leg
        ch.queue_line(pbx, leg)
        if chan.answered_at is None:
            # Queue() answers a caller the dialplan left ringing once a member answers.
            ch.indicate(pbx, chan, "ANSWER")
        ch.dial_event(pbx, "DialEnd", chan, leg, [("DialStatus", "ANSWER")])
        chan.cdr.dial_end(pbx.clock.now(), leg, "ANSWER")
        for loser in losers:
            self.dial_end(loser, "CANCEL", "CANCEL")
            self.hang(loser, 26)
        pbx.pending.discard(ring.member.state_interface)
        return ring

    async def talk(self, ring: Ring) -> Result | None:
        """Bridge the answering member; None if the agent hung up before that (AgentDump)."""
        pbx, chan, leg, member = self.pbx, self.chan, ring.leg, ring.member
        delay = self.queue.config.member_delay
        if delay and await pbx.clock.first([leg.hangup_requested, chan.hangup_requested], delay):
            self.dumped(ring)
            return None
        if self.queue.config.interface_vars:
            self.interface_vars(ring)
        if self.queue.config.record:
            path = f"/var/spool/asterisk/monitor/{chan.uniqueid}.wav"
            ch.set_var(pbx, chan, "MIXMONITOR_FILENAME", path)
            pbx.emit("MixMonitorStart", "call", chan.snapshot())
        holdtime = self.held()
        position = self.queue.leave(self.entry)
        ch.set_var(pbx, chan, "QUEUEPOSITION", str(position))
        ringtime = int(pbx.clock.now()) - int(ring.started)
        timing = [("HoldTime", str(holdtime)), ("RingTime", str(ringtime))]
        pbx.emit("AgentConnect", "agent", [*self.blocks(leg), *self.member_id(member), *timing])
        self.log(member.name, "CONNECT", holdtime, leg.uniqueid, ringtime)
        member.in_call = True
        self.queue.connected(holdtime)
        connected = pbx.clock.now()
        bridge = bridges.bridge_pair(pbx, leg, chan)
        await pbx.clock.first([chan.hangup_requested, leg.hangup_requested], None)
        talktime = int(pbx.clock.now()) - int(connected)
        by_agent = leg.ending and not chan.ending
        reason = "agent" if by_agent else "transfer" if chan.redirect else "caller"
        complete = [("HoldTime", str(holdtime)), ("TalkTime", str(talktime)), ("Reason", reason)]
        bridges.bridge_clear_peers(pbx, bridge, leg if by_agent else chan)
        if not by_agent:
            bridges.bridge_leave(pbx, chan)
        self.queue.completed_call(member, holdtime, talktime)
        line: tuple[str | int, ...]
        if reason == "transfer" and chan.redirect is not None:
            context, exten, _ = chan.redirect
            position = self.entry.original_position
            line = ("TRANSFER", exten, context, holdtime, talktime, position)
        else:
            ended = "COMPLETEAGENT" if by_agent else "COMPLETECALLER"
            line = (ended, holdtime, talktime, self.entry.original_position)
        if pbx.config.complete_after_hangup and pbx.rng.random() < pbx.config.complete_after_hangup:
            pbx.spawn(self.complete_late(member, complete, line), f"sim-complete-{chan.name}")
        else:
            with_blocks = pbx.rng.random() >= pbx.config.complete_without_channels
            self.complete(member, self.blocks(leg) if with_blocks else [], complete, line)
        bridges.bridge_leave(pbx, leg)
        chan.cdr.peer_gone(pbx.clock.now(), leg)
        ch.hangup(pbx, leg)
        bridges.bridge_leave(pbx, chan)
        return "stop"

    def complete(
        self, member: Member, blocks: Fields, fields: Fields, line: tuple[str | int, ...]
    ) -> None:
        self.pbx.emit("AgentComplete", "agent", [*blocks, *self.member_id(member), *fields])
        self.log(member.name, str(line[0]), *line[1:])

    async def complete_late(
        self, member: Member, fields: Fields, line: tuple[str | int, ...]
    ) -> None:
        """app_queue's race (ground truth §0.4): AgentComplete after every channel of the call
        has hung up, without channel fields."""
        await self.pbx.ended(self.chan.linkedid)
        self.complete(member, [], fields, line)

    def interface_vars(self, ring: Ring) -> None:
        pbx, member = self.pbx, ring.member
        values = [
            ("MEMBERINTERFACE", member.interface),
            ("MEMBERNAME", member.name),
            ("MEMBERCALLS", str(member.calls_taken)),
            ("MEMBERLASTCALL", str(member.last_call)),
            ("MEMBERPENALTY", str(member.penalty)),
            ("MEMBERDYNAMIC", "1" if member.dynamic else "0"),
            ("MEMBERREALTIME", "0"),
        ]
        entry = [
            ("QEHOLDTIME", str(self.held())),
            ("QEORIGINALPOS", str(self.entry.original_position)),
        ]
        for group in (values, entry):
            for chan in (self.chan, ring.leg):
                for name, value in group:
                    ch.set_var(pbx, chan, name, value)

    def blocks(self, leg: Channel) -> list[tuple[str, str]]:
        return [*self.chan.snapshot(), *leg.snapshot("Dest")]

    def dumped(self, ring: Ring) -> None:
        """The agent hung up after answering, before the bridge (memberdelay): AgentDump."""
        pbx, leg = self.pbx, ring.leg
        if leg.ending:
            pbx.emit("AgentDump", "agent", [*self.blocks(leg), *self.member_id(ring.member)])
            self.log(ring.member.name, "AGENTDUMP")
            ch.dial_event(pbx, "DialEnd", self.chan, leg, [("DialStatus", "NOANSWER")])
        self.chan.cdr.peer_gone(pbx.clock.now(), leg)
        ch.request_hangup(pbx, leg, 0, announce=False)
        ch.hangup(pbx, leg)
