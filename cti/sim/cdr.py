"""Call detail records (cdr_manager `Cdr`) and channel event logging (cel_manager `CEL`).

CDRs follow what the captures show: a channel that ran dialplan owns records; each dial attempt
from it (every queue member rung, every Dial) gets a record of its own with the attempt's outcome,
and dialplan that runs after the last attempt opens one more. All of a channel's records are
published when it hangs up. Outgoing legs that never ran dialplan (the queue's ;1 agent leg) are
only the DestinationChannel of someone else's record.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from cti.sim.wire import Fields, cdr_time

if TYPE_CHECKING:
    from cti.sim.channels import Channel
    from cti.sim.pbx import Pbx

_DISPOSITION: Final = {"ANSWER": "ANSWERED", "BUSY": "BUSY", "CONGESTION": "CONGESTION"}
# The apps cel.conf `apps=queue,dial,mixmonitor` asks APP_START/APP_END for.
CEL_APPS: Final = frozenset({"Queue", "Dial", "MixMonitor"})


@dataclass(slots=True)
class CdrRecord:
    start: float
    exten: str
    context: str
    peer: str = ""
    answer: float | None = None
    end: float | None = None
    disposition: str = ""
    last_app: str = ""
    last_data: str = ""


class CdrLog:
    """The records of one channel; `dirty` means dialplan ran since the last closed attempt."""

    def __init__(self, chan: Channel) -> None:
        self.chan = chan
        self.records: list[CdrRecord] = []
        self.open: dict[str, CdrRecord] = {}
        self.dirty = True

    def dial_begin(self, now: float, peer: Channel) -> None:
        chan = self.chan
        start = now if self.records else chan.created
        record = CdrRecord(start, chan.exten, chan.context, peer.name)
        record.answer = start if chan.answered_at is not None else None
        self.dirty = False
        self.records.append(record)
        self.open[peer.name] = record

    def dial_end(self, now: float, peer: Channel, status: str) -> None:
        record = self.open.get(peer.name)
        if record is None:
            return
        self._touch(record)
        record.disposition = _DISPOSITION.get(status, "NO ANSWER")
        if status == "ANSWER":
            record.answer = record.answer or now
            return
        record.end = now
        del self.open[peer.name]

    def peer_gone(self, now: float, peer: Channel) -> None:
        """The answered party of an attempt left: its record ends there."""
        record = self.open.pop(peer.name, None)
        if record is not None:
            self._touch(record)
            record.end = now

    def app_ran(self) -> None:
        if self.records and not self.open:
            self.dirty = True

    def close(self, now: float) -> list[CdrRecord]:
        chan = self.chan
        for record in self.open.values():
            self._touch(record)
            record.end = now
        self.open.clear()
        if self.dirty or not self.records:
            start = (self.records[-1].end or now) if self.records else chan.created
            record = CdrRecord(start, chan.exten, chan.context)
            record.answer = chan.answered_at and max(chan.answered_at, start)
            record.disposition = _base_disposition(chan)
            record.end = now
            self._touch(record)
            self.records.append(record)
        return self.records

    def _touch(self, record: CdrRecord) -> None:
        record.last_app, record.last_data = self.chan.app, self.chan.appdata


def _base_disposition(chan: Channel) -> str:
    if chan.answered_at is not None:
        return "ANSWERED"
    return {17: "BUSY", 0: "FAILED", 34: "CONGESTION"}.get(chan.cause or 0, "NO ANSWER")


def on_hangup(pbx: Pbx, chan: Channel) -> None:
    cel(pbx, chan, "HANGUP", extra=_hangup_extra(chan))
    cel(pbx, chan, "CHAN_END")
    if not chan.runs_pbx:
        return
    now = pbx.clock.now()
    for record in chan.cdr.close(now):
        pbx.emit("Cdr", "cdr", _cdr_fields(pbx, chan, record))


def _cdr_fields(pbx: Pbx, chan: Channel, record: CdrRecord) -> Fields:
    end = record.end if record.end is not None else pbx.clock.now()
    answer = record.answer
    name = chan.cid_name
    fields: Fields = [
        ("AccountCode", ""),
        ("Source", chan.cid_num),
        ("Destination", record.exten),
        ("DestinationContext", record.context),
        ("CallerID", f'"{name}" <{chan.cid_num}>' if chan.cid_num else ""),
        ("Channel", chan.name),
        ("DestinationChannel", record.peer),
        ("LastApplication", record.last_app),
        ("LastData", record.last_data),
        ("StartTime", cdr_time(record.start)),
        ("AnswerTime", cdr_time(answer)),
        ("EndTime", cdr_time(end)),
        ("Duration", str(max(0, int(end) - int(record.start)))),
        ("BillableSeconds", str(max(0, int(end) - int(answer))) if answer is not None else "0"),
        ("Disposition", record.disposition),
        ("AMAFlags", "DOCUMENTATION"),
        ("UniqueID", chan.uniqueid),
        ("UserField", chan.userfield),
    ]
    if pbx.config.cdr_linkedid:
        fields.append(("LinkedID", chan.linkedid))
    return fields


def cel(pbx: Pbx, chan: Channel, event: str, *, peer: str = "", extra: str = "") -> None:
    if not pbx.config.cel:
        return
    fields = [
        ("EventName", event),
        ("AccountCode", ""),
        ("CallerIDnum", chan.cid_num),
        ("CallerIDname", chan.cid_name),
        ("CallerIDani", chan.cid_num if chan.outgoing else ""),
        ("CallerIDrdnis", ""),
        ("CallerIDdnid", ""),
        ("Exten", chan.exten),
        ("Context", chan.context),
        ("Channel", chan.name),
        ("Application", chan.app),
        ("AppData", chan.appdata),
        ("EventTime", cdr_time(pbx.clock.now())),
        ("AMAFlags", "DOCUMENTATION"),
        ("UniqueID", chan.uniqueid),
        ("LinkedID", chan.linkedid),
        ("Userfield", chan.userfield),
        ("Peer", peer),
        ("PeerAccount", ""),
        ("Extra", extra),
    ]
    pbx.emit("CEL", "call", fields)


def _hangup_extra(chan: Channel) -> str:
    source = "dialplan/builtin" if chan.app == "Hangup" else ""
    return f'{{"hangupcause":{chan.cause or 0},"hangupsource":"{source}","dialstatus":""}}'
