"""The real Asterisk 22 captures and the rig that produced them, as the tests read them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRACES = ROOT / "tests" / "data" / "ami-traces"
# The PBX configuration the captures were recorded with (its manager.conf aside).
RIG = ROOT / "deploy" / "asterisk"


@dataclass(frozen=True, slots=True)
class TraceFrame:
    t: float
    incoming: bool
    frame: bytes

    @property
    def eof(self) -> bool:
        return self.incoming and not self.frame


@dataclass(frozen=True, slots=True)
class RigMember:
    queue: str
    interface: str
    name: str
    state_interface: str


def load(name: str) -> list[TraceFrame]:
    frames = []
    for line in (TRACES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        frames.append(
            TraceFrame(record["t"], record["dir"] == "in", record["frame"].encode("utf-8"))
        )
    return frames


def names() -> list[str]:
    return sorted(p.stem for p in TRACES.glob("*.jsonl"))


def names_with_calls() -> list[str]:
    return [
        n
        for n in names()
        if any(b"QueueCallerJoin" in f.frame or b"DialBegin" in f.frame for f in load(n))
    ]


def rig_queues() -> tuple[dict[str, int], list[RigMember]]:
    """Each queue's wrap-up seconds, and the static members, from the rig's queues.conf."""
    wrapup: dict[str, int] = {}
    members: list[RigMember] = []
    queue = ""
    for raw in (RIG / "queues.conf").read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if section := re.fullmatch(r"\[(\w+)\]", line):
            queue = section.group(1)
            if queue != "general":
                wrapup[queue] = 0
        elif (match := re.fullmatch(r"wrapuptime\s*=\s*(\d+)", line)) and queue:
            wrapup[queue] = int(match.group(1))
        elif line.startswith("member") and "=>" in line:
            interface, _, name, state_interface = line.split("=>", 1)[1].strip().split(",")
            members.append(RigMember(queue, interface, name, state_interface))
    return wrapup, members


def queue_status_reply(action_id: str, members: list[RigMember]) -> bytes:
    """What QueueStatus answers on an idle rig: every member logged in and not in use."""
    frames = [
        f"Response: Success\r\nActionID: {action_id}\r\nEventList: start\r\n"
        "Message: Queue status will follow\r\n\r\n"
    ]
    for m in members:
        frames.append(
            f"Event: QueueMember\r\nQueue: {m.queue}\r\nName: {m.name}\r\nLocation: {m.interface}"
            f"\r\nStateInterface: {m.state_interface}\r\nMembership: static\r\nPenalty: 0\r\n"
            "CallsTaken: 0\r\nLastCall: 0\r\nLastPause: 0\r\nLoginTime: 1795389437\r\n"
            "InCall: 0\r\nStatus: 1\r\nPaused: 0\r\nPausedReason: \r\nWrapuptime: 0\r\n"
            f"ActionID: {action_id}\r\n\r\n"
        )
    frames.append(
        f"Event: QueueStatusComplete\r\nActionID: {action_id}\r\nEventList: Complete\r\n"
        f"ListItems: {len(members)}\r\n\r\n"
    )
    return "".join(frames).encode()
