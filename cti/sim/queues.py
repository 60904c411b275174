"""Queue and member state (app_queue), and the member events it publishes.

Member status follows the device state of the member's state interface (Local devices only ever
report NOT_INUSE and INUSE). A member can be rung when it is not paused, its device is free, it is
not being rung for another caller (ringinuse=no) and its queue's wrap-up time has passed since its
last call; wrap-up itself publishes nothing (ground truth §2.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from cti.sim.config import MemberConfig, QueueConfig
from cti.sim.wire import Fields

if TYPE_CHECKING:
    from cti.sim.channels import Channel
    from cti.sim.pbx import Pbx

DEVICE_STATUS: Final = {"NOT_INUSE": 1, "INUSE": 2, "BUSY": 3, "UNAVAILABLE": 5, "RINGING": 6}


@dataclass(slots=True)
class Member:
    interface: str
    name: str
    state_interface: str
    penalty: int
    dynamic: bool
    login_time: int
    status: int = 1
    paused: bool = False
    reason: str = ""
    last_pause: int = 0
    calls_taken: int = 0
    last_call: int = 0
    in_call: bool = False


@dataclass(slots=True)
class Entry:
    chan: Channel
    joined: float
    original_position: int
    rr_start: int = 0
    ringing: bool = False


@dataclass(slots=True)
class QueueState:
    config: QueueConfig
    pbx: Pbx
    members: list[Member] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    rr_position: int = 0
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0

    @property
    def name(self) -> str:
        return self.config.name

    def member(self, interface_or_name: str) -> Member | None:
        return next((m for m in self.members if interface_or_name in (m.interface, m.name)), None)

    def member_fields(self, m: Member, *, listing: bool = False) -> Fields:
        """QueueMember* event bodies; QueueStatus items use Name/Location and no Ringinuse."""
        fields: Fields = [("Queue", self.name)]
        if listing:
            fields += [("Name", m.name), ("Location", m.interface)]
        else:
            fields += [("MemberName", m.name), ("Interface", m.interface)]
        fields += [
            ("StateInterface", m.state_interface),
            ("Membership", "dynamic" if m.dynamic else "static"),
            ("Penalty", str(m.penalty)),
            ("CallsTaken", str(m.calls_taken)),
            ("LastCall", str(m.last_call)),
            ("LastPause", str(m.last_pause)),
            ("LoginTime", str(m.login_time)),
            ("InCall", "1" if m.in_call else "0"),
            ("Status", str(m.status)),
            ("Paused", "1" if m.paused else "0"),
            ("PausedReason", m.reason),
        ]
        if not listing:
            fields.append(("Ringinuse", "0"))
        fields.append(("Wrapuptime", "0"))
        return fields

    def emit_member(self, event: str, m: Member) -> None:
        self.pbx.emit(event, "agent", self.member_fields(m))

    def idle(self, m: Member, now: float) -> bool:
        """Not paused, device free, wrap-up over (what QueueSummary counts as Available)."""
        if m.paused or m.status not in (0, 1):
            return False
        wrapup = self.config.wrapup
        # Whole seconds, as app_queue compares time(NULL) with the member's lastcall.
        return not (wrapup and m.last_call and int(now) - m.last_call < wrapup)

    def can_ring(self, m: Member, now: float) -> bool:
        # ringinuse=no: a member being rung for another caller is not rung again.
        return self.idle(m, now) and m.state_interface not in self.pbx.pending

    def available(self, m: Member) -> bool:
        return not m.paused and m.status in (0, 1)

    def refresh_avail(self, *, force: bool = False) -> None:
        free = any(self.available(m) for m in self.members)
        self.pbx.devices.publish(
            f"Queue:{self.name}_avail", "NOT_INUSE" if free else "INUSE", force=force
        )

    def on_device(self, device: str, state: str) -> None:
        status = DEVICE_STATUS.get(state, 0)
        changed = False
        for m in self.members:
            if m.state_interface == device and m.status != status:
                m.status = status
                self.emit_member("QueueMemberStatus", m)
                changed = True
        if changed:
            self.refresh_avail()

    def join(self, chan: Channel) -> Entry:
        entry = Entry(chan, self.pbx.clock.now(), len(self.entries) + 1)
        self.entries.append(entry)
        if len(self.entries) == 1:
            self.pbx.devices.publish(f"Queue:{self.name}", "RINGING")
        self._caller_event("QueueCallerJoin", entry, [("Count", str(len(self.entries)))])
        return entry

    def position(self, entry: Entry) -> int:
        return self.entries.index(entry) + 1

    def leave(self, entry: Entry) -> int:
        position = self.position(entry)
        self.entries.remove(entry)
        if not self.entries:
            self.pbx.devices.publish(f"Queue:{self.name}", "NOT_INUSE")
        count = [("Count", str(len(self.entries)))]
        self.pbx.emit("QueueCallerLeave", "agent", self._body(entry, position, count))
        return position

    def abandon_event(self, entry: Entry, holdtime: int) -> None:
        self.abandoned += 1
        if holdtime <= self.config.service_level:
            self.abandoned_in_sl += 1
        extra = [("OriginalPosition", str(entry.original_position)), ("HoldTime", str(holdtime))]
        self._caller_event("QueueCallerAbandon", entry, extra)

    def _caller_event(self, event: str, entry: Entry, extra: Fields) -> None:
        self.pbx.emit(event, "agent", self._body(entry, self.position(entry), extra))

    def _body(self, entry: Entry, position: int, extra: Fields) -> Fields:
        return [*entry.chan.snapshot(), ("Queue", self.name), ("Position", str(position)), *extra]

    def is_turn(self, entry: Entry, now: float) -> bool:
        """autofill: the n-th waiting caller may ring once n members are free."""
        ahead = sum(1 for e in self.entries[: self.position(entry) - 1] if not e.ringing)
        return ahead < sum(1 for m in self.members if self.can_ring(m, now))

    def candidates(self, entry: Entry, now: float) -> list[Member]:
        """Members to ring, in the order the strategy rings them."""
        free = [m for m in self.members if self.can_ring(m, now)]
        if self.config.strategy == "ringall":
            # app_queue builds its outgoing list by prepending: the last member rings first.
            return free[::-1]
        start = self.rr_position if self.config.strategy == "rrmemory" else entry.rr_start
        index = {id(m): i for i, m in enumerate(self.members)}
        return sorted(free, key=lambda m: (index[id(m)] < start, index[id(m)]))

    def rang(self, entry: Entry, m: Member) -> None:
        following = self.members.index(m) + 1
        if self.config.strategy == "rrmemory":
            self.rr_position = following
        entry.rr_start = following

    def connected(self, holdtime: int) -> None:
        self.holdtime = (self.holdtime * 3 + holdtime) // 4

    def completed_call(self, m: Member, holdtime: int, talktime: int) -> None:
        self.completed += 1
        if holdtime <= self.config.service_level:
            self.completed_in_sl += 1
        self.talktime = (self.talktime * 3 + talktime) // 4
        now = int(self.pbx.clock.now())
        m.in_call = False
        for queue in self.pbx.queues.values():
            for other in queue.members:
                # shared_lastcall=yes: the last call counts in every queue of the interface.
                if other.interface == m.interface:
                    other.last_call = now
        m.calls_taken += 1

    def service_levels(self) -> tuple[str, str]:
        perf = self.completed_in_sl * 100 / self.completed if self.completed else 0.0
        total = self.completed + self.abandoned
        both = self.completed_in_sl + self.abandoned_in_sl
        perf2 = both * 100 / total if total else 0.0
        return f"{perf:.1f}", f"{perf2:.1f}"


def new_member(pbx: Pbx, cfg: MemberConfig, *, dynamic: bool) -> Member:
    status = DEVICE_STATUS.get(pbx.devices.state(cfg.device), 0)
    login = int(pbx.clock.now())
    return Member(cfg.interface, cfg.name, cfg.device, cfg.penalty, dynamic, login, status)


def build_queues(pbx: Pbx) -> dict[str, QueueState]:
    queues: dict[str, QueueState] = {}
    for cfg in pbx.config.queues:
        queue = QueueState(cfg, pbx)
        queue.members = [new_member(pbx, m, dynamic=False) for m in cfg.members]
        # The queue's pseudo-devices start in their idle state; only changes are published.
        free = any(queue.available(m) for m in queue.members)
        pbx.devices.states[f"Queue:{cfg.name}_avail"] = "NOT_INUSE" if free else "INUSE"
        pbx.devices.states[f"Queue:{cfg.name}"] = "NOT_INUSE"
        queues[cfg.name] = queue
        pbx.devices.watchers.append(queue.on_device)
    return queues


def pause_targets(pbx: Pbx, interface: str, queue: str = "") -> list[tuple[QueueState, Member]]:
    """The memberships QueuePause acts on: every queue of the interface unless one is named."""
    return [
        (q, m)
        for q in pbx.queues.values()
        if not queue or q.name == queue
        for m in q.members
        if m.interface == interface
    ]


def set_paused(
    pbx: Pbx, targets: list[tuple[QueueState, Member]], paused: bool, reason: str = ""
) -> None:
    """Pause or unpause: the pause device, the queue's availability, then QueueMemberPause."""
    for queue, m in targets:
        m.paused, m.reason = paused, reason if paused else ""
        if paused:
            m.last_pause = int(pbx.clock.now())
        state = "INUSE" if paused else "NOT_INUSE"
        pbx.devices.publish(f"Queue:{queue.name}_pause_{m.interface}", state, force=True)
        queue.refresh_avail()
        queue.emit_member("QueueMemberPause", m)
