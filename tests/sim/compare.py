"""Compare what the simulator said with what Asterisk said in a capture, aspect by aspect.

Ids, channel numbers and timestamps differ by nature; so does the interleaving of events that
Asterisk publishes on different Stasis topics (ground truth §1.5). What must match:
- the agent/queue event sequence (app_queue publishes it in order), with the unit-bearing values;
- the member events of each member (Status, Paused), whichever member it was;
- per channel (named by role: `agents#0;1`), the sequence of call events, with state, cause and
  dial status; per channel the CEL sequence and the Cdr dispositions;
- the device states seen, and the count of every other event;
- every event's field names, in order, as one of the field sets the capture shows for that event.
A mismatch comes back as a readable report, one unified diff per aspect.
"""

from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from cti.ami.frames import parse_frame

MEMBER_EVENTS = {"QueueMemberStatus", "QueueMemberPause", "QueueMemberAdded", "QueueMemberRemoved"}
# Published on their own topics or by subsystems with no per-channel order.
UNORDERED = {
    "CEL",
    "Cdr",
    "DeviceStateChange",
    "OriginateResponse",
    "LocalBridge",
    "BridgeCreate",
    "BridgeDestroy",
    "FullyBooted",
    "UserEvent",
}
DETAIL = {
    "Newstate": "ChannelStateDesc",
    "Hangup": "Cause",
    "HangupRequest": "Cause",
    "DialEnd": "DialStatus",
    "DialState": "DialStatus",
}
SECONDS = ("HoldTime", "TalkTime")
EXACT = ("Reason", "Position", "Count", "OriginalPosition")
_CHANNEL = re.compile(r"^(?P<tech>[A-Za-z]+)/(?P<body>.+)-(?P<seq>[0-9a-f]{8})(?P<half>;[12])?$")


@dataclass(frozen=True, slots=True)
class Event:
    name: str
    keys: tuple[str, ...]
    fields: dict[str, str]

    @property
    def category(self) -> str:
        return self.fields.get("Privilege", "").split(",")[0]


def parse(raw: bytes) -> Event | None:
    message = parse_frame(raw)
    name = message.get("Event")
    if not isinstance(name, str):
        return None
    keys = tuple(k for k in message if k != "Event")
    fields = {k: v if isinstance(v, str) else v[0] for k, v in message.items()}
    return Event(name, keys, fields)


def capture_events(path: Path) -> list[Event]:
    """The events Asterisk sent in a capture (list items included, responses left out)."""
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["dir"] != "in":
            continue
        for raw in record["frame"].encode("utf-8").split(b"\r\n\r\n"):
            event = parse(raw) if raw.startswith(b"Event:") else None
            if event is not None:
                events.append(event)
    return events


class Roles:
    """Names channels by context and order of appearance: Local/agent1@agents-1e;1 -> agents#0;1."""

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}
        self.per_kind: Counter[str] = Counter()

    def __call__(self, name: str) -> str:
        match = _CHANNEL.match(name)
        if match is None:
            return name
        body = match["body"]
        kind = body.split("@", 1)[1] if "@" in body else match["tech"]
        base = f"{match['tech']}/{body}-{match['seq']}"
        if base not in self.seen:
            self.seen[base] = f"{kind}#{self.per_kind[kind]}"
            self.per_kind[kind] += 1
        return self.seen[base] + (match["half"] or "")


def _device_kind(device: str) -> str:
    if device.startswith("Queue:"):
        return re.sub(r"_pause_.*$", "_pause", device)
    match = re.match(r"^(\w+)/[^@]+(@\S+)?$", device)
    return f"{match[1]}{match[2] or ''}" if match else device


def aspects(events: list[Event]) -> dict[str, list[str]]:
    """Every compared aspect of an event stream, as lines of text."""
    roles = Roles()
    out: dict[str, list[str]] = {"agent sequence": [], "member events": [], "devices": []}
    per_channel: dict[str, list[str]] = {}
    cel: dict[str, list[str]] = {}
    cdr: dict[str, list[str]] = {}
    members: dict[str, list[str]] = {}
    counts: Counter[str] = Counter()
    for ev in events:
        f = ev.fields
        if ev.name in MEMBER_EVENTS:
            members.setdefault(f["Interface"], []).append(f"{ev.name} {f['Status']} {f['Paused']}")
        elif ev.category == "agent":
            out["agent sequence"].append(ev.name)
        if ev.name == "CEL" and f["EventName"] != "LINKEDID_END":
            cel.setdefault(roles(f["Channel"]), []).append(f["EventName"])
        elif ev.name == "Cdr":
            cdr.setdefault(roles(f["Channel"]), []).append(f["Disposition"])
        elif ev.name == "DeviceStateChange":
            out["devices"].append(f"{_device_kind(f['Device'])} {f['State']}")
        elif ev.category == "agent":
            continue
        elif ev.name in UNORDERED or ev.category in ("dialplan", "system", ""):
            counts[ev.name if ev.name != "CEL" else "CEL LINKEDID_END"] += 1
        elif ev.category == "call":
            chan = (
                f.get("Channel") if ev.name not in ("DialBegin", "DialState", "DialEnd") else None
            )
            role = roles(chan or f.get("DestChannel", "?"))
            detail = f.get(DETAIL.get(ev.name, ""), "")
            per_channel.setdefault(role, []).append(f"{ev.name} {detail}".strip())
    # Device-state driven member updates race (a busy phone flips 2/1 on some cycles only):
    # each member's distinct updates, in order of first appearance, are what is compared.
    out["member events"] = sorted(" / ".join(dict.fromkeys(seq)) for seq in members.values())
    out["devices"] = sorted(set(out["devices"]))
    for title, table in (("channel", per_channel), ("CEL", cel), ("Cdr", cdr)):
        for role, seq in sorted(table.items()):
            out[f"{title} {role}"] = seq
    out["other event counts"] = [f"{name} x{n}" for name, n in sorted(counts.items())]
    return out


def _units(capture: list[Event], sim: list[Event]) -> list[str]:
    """Unit-bearing values of the agent/queue events, pairwise (durations within 1 s)."""
    problems = []
    pairs = zip(
        [e for e in capture if e.category == "agent" and e.name not in MEMBER_EVENTS],
        [e for e in sim if e.category == "agent" and e.name not in MEMBER_EVENTS],
        strict=False,
    )
    for want, got in pairs:
        for key in (*SECONDS, "RingTime", *EXACT):
            if key not in want.fields or want.name != got.name:
                continue
            a, b = want.fields[key], got.fields.get(key, "<missing>")
            slack = 1000 if want.name == "AgentRingNoAnswer" else 1
            numeric = a.isdigit() and b.isdigit()
            if key in EXACT or not numeric:
                if a != b:
                    problems.append(f"{want.name} {key}: capture {a}, simulator {b}")
            elif abs(int(a) - int(b)) > slack:
                problems.append(f"{want.name} {key}: capture {a}, simulator {b} (units?)")
    return problems


def _field_sets(capture: list[Event], sim: list[Event]) -> list[str]:
    known: dict[str, set[tuple[str, ...]]] = {}
    for ev in capture:
        known.setdefault(ev.name, set()).add(ev.keys)
    problems = []
    for ev in sim:
        sets = known.get(ev.name)
        if sets is None:
            problems.append(f"{ev.name}: the capture has no such event")
        elif ev.keys not in sets:
            best = max(sets, key=lambda k: len(set(k) & set(ev.keys)))
            diff = difflib.unified_diff(
                list(best), list(ev.keys), "capture", "simulator", lineterm=""
            )
            problems.append(f"{ev.name} fields differ:\n" + "\n".join(diff))
    return sorted(set(problems))


def compare(capture: list[Event], sim: list[Event], *, ignore: frozenset[str] = frozenset()) -> str:
    """An empty string when the simulator matches the capture, else a readable report."""
    report = []
    want, got = aspects(capture), aspects(sim)
    for key in sorted(set(want) | set(got)):
        if key in ignore:
            continue
        a, b = want.get(key, []), got.get(key, [])
        if key == "devices":
            # Device states race with everything; only those the simulator never shows, or the
            # capture never showed, are differences (queue availability flips aside).
            a = [d for d in a if "_avail" not in d or d in b]
            b = [d for d in b if "_avail" not in d or d in a]
        if a != b:
            diff = difflib.unified_diff(a, b, "capture", "simulator", lineterm="")
            report.append(f"== {key}\n" + "\n".join(diff))
    units = _units(capture, sim)
    if units:
        report.append("== units\n" + "\n".join(units))
    fields = _field_sets(capture, sim)
    if fields:
        report.append("== field sets\n" + "\n".join(fields))
    return "\n\n".join(report)


def responses(frames: list[bytes]) -> list[str]:
    """Each response as `Response Message [EventList|Events|Ping]`, ids and times left out."""
    out = []
    for raw in frames:
        if not raw.startswith(b"Response:"):
            continue
        message = parse_frame(raw)
        keys = ("Response", "Message", "EventList", "Events", "Ping")
        out.append(" | ".join(f"{k}: {message[k]}" for k in keys if k in message))
    return out


def capture_frames(path: Path) -> list[bytes]:
    frames = []
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["dir"] == "in":
            frames += [f for f in record["frame"].encode("utf-8").split(b"\r\n\r\n") if f]
    return frames
