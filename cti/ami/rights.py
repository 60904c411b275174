"""The manager rights cti needs from a PBX: checked at every login, reported until granted.

Write rights (the actions cti sends) are checked exactly. ListCommands, which every user may send,
lists the actions this user may send and only those (manager.c: `(writeperm & authority) ||
authority == 0`); an action the PBX lacks (app_queue not loaded) is missing from it too. An
action later refused with `Permission denied` counts as missing as well.

No action tells a user's read rights, so each event class cti reads is checked as well as AMI
allows:
- system: FullyBooted follows Login only for a user who reads system (ground truth §1.3); none
  means missing. A PBX still booting at login sends none either: its later FullyBooted (any
  system event) clears the report.
- dialplan: a global Setvar raises a VarSet with `Channel: none`, class dialplan, which reaches
  only a user who reads dialplan; none within PROBE_WAIT means missing. The probe needs write
  call (without it dialplan stays unconfirmed until such an event comes) and leaves the global
  variable PROBE_VARIABLE on the PBX. A PBX-side filter or disabledevents that drops VarSet is
  reported as missing dialplan, which is what cti then lives with anyway.
- call, agent: nothing raises their events without a side effect (a call), so the first such
  event confirms them; until then they are "not confirmed yet", never reported missing.
- A class that pbx.events does not ask for is missing, whatever the user may read.
Any event of a class confirms it, so a missing report clears once the class is seen.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Final

from cti.ami.classes import parse_classes, privilege
from cti.ami.errors import AmiActionFailed
from cti.ami.frames import AmiMessage, first
from cti.ami.link import AmiLink
from cti.config import PbxConfig
from cti.errors import AmiError
from cti.health import HealthRegistry

logger = logging.getLogger(__name__)

PERMISSION_DENIED: Final = "Permission denied"
PROBE_VARIABLE: Final = "CTI_DIALPLAN_READ_CHECK"
# Asterisk hands the probe's VarSet to the sessions within milliseconds (through Stasis, so it
# may follow the Setvar's answer); one that does not come within this is taken as not coming.
PROBE_WAIT: Final = 2.0
_COMMAND: Final = re.compile(r"\(Priv: [^)]*\)$")

# The event classes cti reads, and what is lost without each.
READS: Final = {
    "system": "PBX restarts are not told from network blips: the calls a restart cut off are "
    "not marked as such",
    "call": "calls outside queues (direct, click-to-dial) and hang-ups are not followed",
    "agent": "no queue or agent events: no screen-pops, no queue calls in the call log, the "
    "live floor stands still",
    "dialplan": "queue timeouts are logged as abandons (no QUEUESTATUS) and recordings have no "
    "file name (no MIXMONITOR_FILENAME)",
}


# How a missing read class showed itself at login.
_ABSENCE: Final = {
    "system": "no FullyBooted after Login, or the PBX was still booting",
    "dialplan": f"no VarSet for {PROBE_VARIABLE} within {PROBE_WAIT:g} s",
}


@dataclass(frozen=True, slots=True)
class ActionNeed:
    write: str  # what manager.conf write= must allow
    loses: str


WRITES: Final = {
    "QueueStatus": ActionNeed(
        "any, with app_queue loaded", "the resync cannot read queues: cti cannot resync"
    ),
    "CoreShowChannels": ActionNeed(
        "system or reporting",
        "the resync reads queues and members only: calls up at login are not followed and "
        "calls that ended while the link was down stay open",
    ),
    "Originate": ActionNeed("originate", "click-to-dial fails"),
    "QueuePause": ActionNeed("agent", "pausing agents from the live floor fails"),
    "QueueAdd": ActionNeed("agent", "adding agents to queues from the live floor fails"),
    "QueueRemove": ActionNeed("agent", "removing agents from queues from the live floor fails"),
}
FILTER: Final = ActionNeed(
    "system",
    "pbx.event_filter is not installed: the PBX sends every event (cti still drops the ones it "
    "does not read)",
)


def commands(reply: AmiMessage) -> frozenset[str]:
    """The actions a ListCommands answer lists (`Name: synopsis (Priv: classes)`), lowercased."""
    return frozenset(
        key.lower()
        for key, value in reply.items()
        if isinstance(value, str) and _COMMAND.search(value)
    )


class RightsCheck:
    """One PBX's manager rights, checked at each login and confirmed by the events that come."""

    def __init__(self, config: PbxConfig, health: HealthRegistry) -> None:
        self._component = f"pbx:{config.name}:rights"
        self._health = health
        self._asked = parse_classes(config.events)
        self._writes = dict(WRITES, **({"Filter": FILTER} if config.event_filter else {}))
        self._allowed: frozenset[str] | None = None  # None: ListCommands told nothing
        self._unlisted = ""
        self._refused: set[str] = set()
        self._seen: set[str] = set()
        self._headers: set[str] = set()  # the Privilege headers whose classes are in _seen
        self._absent: set[str] = set()  # read classes the login check found missing
        self._probe_until: float | None = None
        self._verdict: asyncio.TimerHandle | None = None  # the probe's time running out
        self._checked = False

    def observe(self, frame: AmiMessage) -> None:
        """Every event as it arrives: its class proves the user reads that class."""
        header = first(frame, "Privilege")
        if header in self._headers:
            return  # the common case, kept to one set lookup per event
        self._headers.add(header)
        classes = privilege(header) - self._seen
        if not classes:
            return
        self._seen |= classes
        if "dialplan" in classes and self._verdict is not None:
            self._verdict.cancel()
            self._verdict, self._checked = None, True
        if self._checked:
            self.report()

    def allows(self, action: str) -> bool:
        """Whether the user may send the action, as far as is known."""
        key = action.lower()
        listed = self._allowed is None or key in self._allowed
        return listed and key not in self._refused

    def refused(self, action: str) -> None:
        """The PBX answered the action with Permission denied."""
        self._refused.add(action.lower())
        if self._checked:
            self.report()

    async def check(self, link: AmiLink, *, booted: bool) -> None:
        """At login, before the resync: `booted` if FullyBooted followed Login. Asks ListCommands
        and sends the dialplan probe; conclude() reads the answer. Never raises: what could not
        be asked stays unknown, and the resync finds its own way."""
        self._checked = False
        self._refused.clear()
        # system and dialplan are checked again; call and agent stay confirmed once seen (no
        # check could tell more, and a note flapping at each reconnect would tell less).
        self._seen = (self._seen - {"system", "dialplan"}) | ({"system"} if booted else set())
        self._headers.clear()
        self._absent = set() if booted else {"system"}
        self._probe_until = None
        if self._verdict is not None:
            self._verdict.cancel()
            self._verdict = None
        try:
            reply = await link.send({"Action": "ListCommands"}, as_list=False)
        except AmiError as exc:
            self._allowed, self._unlisted = None, str(exc)
            if not isinstance(exc, AmiActionFailed):
                return  # no answer: the PBX is not answering, no use probing it now
        else:
            frame = reply[0].frame if isinstance(reply, list) else reply.frame
            # Asterisk lists at least the actions every user may send; no list is no answer.
            self._allowed = commands(frame) or None
            self._unlisted = "" if self._allowed else "ListCommands listed no action"
        if "dialplan" not in self._asked or not self.allows("Setvar"):
            return
        try:
            await link.send({"Action": "Setvar", "Variable": PROBE_VARIABLE, "Value": "1"})
        except AmiError as exc:
            # Without the probe, dialplan stays unconfirmed until one of its events comes.
            logger.info("rights check: no dialplan probe (%s)", exc)
        else:
            self._probe_until = asyncio.get_running_loop().time() + PROBE_WAIT

    def conclude(self) -> None:
        """After the resync: report, once the probe's VarSet came or its time ran out (the
        events go on meanwhile)."""
        if self._probe_until is not None and "dialplan" not in self._seen:
            loop = asyncio.get_running_loop()
            self._verdict = loop.call_at(self._probe_until, self._probe_expired)
            return
        self._checked = True
        self.report()

    def _probe_expired(self) -> None:
        self._verdict = None
        self._absent.add("dialplan")
        self._checked = True
        self.report()

    def report(self) -> None:
        """Health and, on each change, one log line naming what is missing and what it costs."""
        missing: list[str] = []
        details: list[str] = []
        for name, loses in READS.items():
            if name not in self._asked:
                missing.append(f"read {name}")
                details.append(f"read {name} (not asked for in pbx.events): {loses}")
            elif name in self._absent and name not in self._seen:
                missing.append(f"read {name}")
                details.append(f"read {name} (manager.conf read=; {_ABSENCE[name]}): {loses}")
        for action, need in self._writes.items():
            if not self.allows(action):
                missing.append(f"write {action}")
                details.append(f"write {action} (manager.conf write={need.write}): {need.loses}")
        if missing:
            reason = f"missing {', '.join(missing)}; cti checks again at every login"
            self._health.report(self._component, "degraded", reason, details)
            return
        notes = []
        pending = [c for c in READS if c not in self._seen and c not in self._absent]
        if pending:
            notes.append(f"read {', '.join(pending)} not confirmed yet (no such event since login)")
        if self._allowed is None:
            notes.append(f"write rights unknown ({self._unlisted})")
        self._health.report(self._component, "ok", "; ".join(notes) or "all rights granted")
