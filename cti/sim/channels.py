"""Channels and the events each change publishes (ground truth §2.1-2.3).

A channel's snapshot block is what every call event embeds. Hanging up follows what the captures
show: a channel that runs dialplan publishes SoftHangupRequest first, a Local half asks its other
half to hang up (HangupRequest with the cause), then Hangup carries the channel's own cause.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final

from cti.sim import cdr
from cti.sim.wire import UNKNOWN, Fields, escape_c

if TYPE_CHECKING:
    from cti.sim.bridges import Bridge
    from cti.sim.pbx import Pbx

DOWN, RING, RINGING, UP, BUSY = 0, 4, 5, 6, 7
STATE_DESC: Final = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up", 7: "Busy"}
PRESENTATION: Final = {
    0: "Presentation Allowed, Not Screened",
    32: "Presentation Prohibited, Not Screened",
    35: "Presentation Prohibited, Network Number",
}
CAUSE_TEXT: Final = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    34: "Circuit/channel congestion",
    127: "Interworking, unspecified",
}


class Channel:
    """One channel as the PBX tracks it; `hangup_requested` completes when it must go."""

    def __init__(
        self, pbx: Pbx, name: str, state: int, context: str, exten: str, linkedid: str, uid: str
    ) -> None:
        self.name = name
        self.uniqueid = uid
        self.linkedid = linkedid or uid
        self.state = state
        self.context = context
        self.exten = exten
        self.priority = 1
        self.cid_num = ""
        self.cid_name = ""
        self.pres = 0
        self.conn_num = ""
        self.conn_name = ""
        self.app = ""
        self.appdata = ""
        self.userfield = ""
        self.created = pbx.clock.now()
        self.answered_at: float | None = None
        self.device = name.rsplit("-", 1)[0]
        self.outgoing = name.endswith(";1") or not name.startswith("Local/")
        self.other: Channel | None = None
        self.bridge: Bridge | None = None
        self.variables: dict[str, str] = {}
        self.inherit: dict[str, str] = {}
        self.cause: int | None = None
        self.runs_pbx = False
        self.gone = False
        # Set on an outgoing leg: what its far end signalled (ANSWER, BUSY), and who dials it.
        self.outcome: asyncio.Future[str] | None = None
        self.dialed_by: Channel | None = None
        # Where a Redirect sends the channel once its current application lets go.
        self.redirect: tuple[str, str, int] | None = None
        self.line_updated = False
        self.hangup_requested: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.cdr = cdr.CdrLog(self)

    def snapshot(self, prefix: str = "") -> Fields:
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", str(self.state)),
            (f"{prefix}ChannelStateDesc", STATE_DESC.get(self.state, "Unknown")),
            (f"{prefix}CallerIDNum", self.cid_num or UNKNOWN),
            (f"{prefix}CallerIDName", escape_c(self.cid_name) or UNKNOWN),
            (f"{prefix}ConnectedLineNum", self.conn_num or UNKNOWN),
            (f"{prefix}ConnectedLineName", escape_c(self.conn_name) or UNKNOWN),
            (f"{prefix}Language", "en"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]

    @property
    def ending(self) -> bool:
        return self.gone or self.hangup_requested.done()


def create(
    pbx: Pbx, name: str, state: int, context: str, exten: str, linkedid: str = "", uid: str = ""
) -> Channel:
    chan = Channel(pbx, name, state, context, exten, linkedid, uid or pbx.new_uniqueid())
    pbx.register(chan)
    pbx.emit("Newchannel", "call", chan.snapshot())
    cdr.cel(pbx, chan, "CHAN_START")
    return chan


def set_caller_id(pbx: Pbx, chan: Channel, num: str, name: str, pres: int | None = None) -> None:
    chan.cid_num, chan.cid_name = num, name
    if pres is not None:
        chan.pres = pres
    text = f"{chan.pres} ({PRESENTATION.get(chan.pres, 'Presentation Allowed, Not Screened')})"
    pbx.emit("NewCallerid", "call", [*chan.snapshot(), ("CID-CallingPres", text)])


def set_connected(pbx: Pbx, chan: Channel, num: str, name: str) -> None:
    chan.conn_num, chan.conn_name = num, name
    pbx.emit("NewConnectedLine", "call", chan.snapshot())


def new_exten(pbx: Pbx, chan: Channel, app: str, data: str) -> None:
    chan.app, chan.appdata = app, data
    fields = [*chan.snapshot(), ("Extension", chan.exten), ("Application", app), ("AppData", data)]
    pbx.emit("Newexten", "dialplan", fields)


def set_var(pbx: Pbx, chan: Channel, name: str, value: str) -> None:
    chan.variables[name.lstrip("_")] = value
    pbx.emit(
        "VarSet", "dialplan", [*chan.snapshot(), ("Variable", name), ("Value", escape_c(value))]
    )


def set_state(pbx: Pbx, chan: Channel, state: int) -> None:
    if chan.state == state or chan.gone:
        return
    was_idle = chan.state in (DOWN, RING)
    chan.state = state
    pbx.emit("Newstate", "call", chan.snapshot())
    if state == UP and chan.answered_at is None:
        chan.answered_at = pbx.clock.now()
        cdr.cel(pbx, chan, "ANSWER")
    if not (was_idle and state in (DOWN, RING)):
        pbx.devices.refresh(chan.device)


def request_hangup(pbx: Pbx, chan: Channel, cause: int | None, *, announce: bool = True) -> None:
    """Ask a channel to hang up; whoever drives it sees `hangup_requested` and finishes it."""
    if chan.gone:
        return
    if chan.hangup_requested.done():
        # A hangup beats a pending Redirect.
        if chan.redirect is not None:
            chan.redirect = None
            chan.cause = cause
        return
    if chan.cause is None:
        chan.cause = cause
    if announce:
        pbx.emit("HangupRequest", "call", [*chan.snapshot(), ("Cause", str(cause or 0))])
    chan.hangup_requested.set_result(None)


def redirect(pbx: Pbx, chan: Channel, target: tuple[str, str, int]) -> None:
    """Interrupt the channel's application; its dialplan loop then continues at `target`."""
    if chan.ending:
        return
    chan.redirect = target
    chan.hangup_requested.set_result(None)


def resume(chan: Channel) -> tuple[str, str, int] | None:
    """Take a pending redirect: the channel is no longer being interrupted."""
    target, chan.redirect = chan.redirect, None
    if target is not None and not chan.gone:
        chan.cause = None
        chan.hangup_requested = asyncio.get_running_loop().create_future()
        return target
    return None


def hangup(pbx: Pbx, chan: Channel, *, soft: bool | None = None) -> None:
    """The channel goes away; `soft` (default: it ran dialplan) adds SoftHangupRequest first."""
    if chan.gone:
        return
    if chan.cause is None:
        chan.cause = 16
    if chan.runs_pbx if soft is None else soft:
        pbx.emit("SoftHangupRequest", "call", [*chan.snapshot(), ("Cause", "16")])
    chan.gone = True
    if not chan.hangup_requested.done():
        chan.hangup_requested.set_result(None)
    other = chan.other
    if other is not None and not other.gone:
        request_hangup(pbx, other, chan.cause)
    cause = chan.cause
    text = CAUSE_TEXT.get(cause, "Unknown")
    pbx.emit("Hangup", "call", [*chan.snapshot(), ("Cause", str(cause)), ("Cause-txt", text)])
    cdr.on_hangup(pbx, chan)
    pbx.unregister(chan)


def indicate(pbx: Pbx, chan: Channel, what: str) -> None:
    """The far end of an outgoing leg signals ANSWER, BUSY or RINGING to whoever dials the leg.

    For a Local pair the far end is the ;2 half running dialplan and the dialer holds the ;1 half,
    which follows the ;2 state (Up on answer, Ringing on Ringing(); core_unreal.c).
    """
    leg = chan.other if chan.other is not None else chan
    if what == "ANSWER":
        set_state(pbx, chan, UP)
        set_state(pbx, leg, UP)
        if leg.app in ("AppQueue", "AppDial") and not leg.runs_pbx:
            new_exten(pbx, leg, leg.app, leg.appdata)
    elif what == "BUSY":
        set_state(pbx, chan, BUSY)
    elif what == "RINGING":
        set_state(pbx, leg, RINGING)
        queue_line(pbx, leg)
        if leg.dialed_by is not None:
            dial_event(pbx, "DialState", leg.dialed_by, leg, [("DialStatus", "RINGING")])
        return
    if leg.outcome is not None and not leg.outcome.done():
        leg.outcome.set_result(what)


def queue_line(pbx: Pbx, leg: Channel) -> None:
    """app_queue gives a member's leg the caller as connected line on its first ring or answer."""
    caller = leg.dialed_by
    if leg.app == "AppQueue" and caller is not None and not leg.line_updated:
        leg.line_updated = True
        set_connected(pbx, leg, caller.cid_num, caller.cid_name)


def local_bridge(pbx: Pbx, one: Channel, two: Channel, optimize: bool) -> None:
    fields = [
        *one.snapshot("LocalOne"),
        *two.snapshot("LocalTwo"),
        ("Context", two.context),
        ("Exten", two.exten),
        ("LocalOptimization", "Yes" if optimize else "No"),
    ]
    pbx.emit("LocalBridge", "call", fields)


def dial_event(pbx: Pbx, name: str, caller: Channel | None, dest: Channel, last: Fields) -> None:
    """DialBegin/DialState/DialEnd; an Originate has no caller block (ground truth §2.2)."""
    fields = caller.snapshot() if caller is not None else []
    pbx.emit(name, "call", [*fields, *dest.snapshot("Dest"), *last])
