"""Which write classes each simulated action needs, and ListCommands' answer for a user.

The authorities are those of Asterisk 22's registrations (manager.c, app_queue.c): an action runs
if the user may write any one of its classes, or if it needs none; otherwise the answer is
`Permission denied` at once, list actions included. ListCommands shows exactly the actions the
user may send, in registration (alphabetical) order, as `Name: synopsis (Priv: classes)`, where
the classes end in `all` and an action that needs none shows `<none>` (authority_to_str). Real
Asterisk lists some 150 actions; the simulator lists the ones it implements.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cti.ami.classes import CLASSES
from cti.sim.wire import Fields


@dataclass(frozen=True, slots=True)
class ActionInfo:
    synopsis: str
    authority: frozenset[str] = frozenset()


def _needs(synopsis: str, *classes: str) -> ActionInfo:
    return ActionInfo(synopsis, frozenset(classes))


ACTIONS: Final = {
    "Challenge": _needs("Generate Challenge for MD5 Auth."),
    "Command": _needs("Execute Asterisk CLI Command.", "command"),
    "CoreShowChannels": _needs("List currently active channels.", "system", "reporting"),
    "Events": _needs("Control Event Flow."),
    "Filter": _needs("Dynamically add filters for the current manager session.", "system"),
    "Getvar": _needs("Gets a channel variable or function value.", "call", "reporting"),
    "Hangup": _needs("Hangup channel.", "system", "call"),
    "ListCommands": _needs("List available manager commands."),
    "Login": _needs("Login Manager."),
    "Logoff": _needs("Logoff Manager."),
    "Originate": _needs("Originate a call.", "originate"),
    "Ping": _needs("Keepalive command."),
    "QueueAdd": _needs("Add interface to queue.", "agent"),
    "QueuePause": _needs("Makes a queue member temporarily unavailable.", "agent"),
    "QueueRemove": _needs("Remove interface from queue.", "agent"),
    "QueueStatus": _needs("Show queue status."),
    "QueueSummary": _needs("Show queue summary."),
    "Redirect": _needs("Redirect (transfer) a call.", "call"),
    "Setvar": _needs("Sets a channel variable or function value.", "call"),
    "UserEvent": _needs("Send an arbitrary event.", "user"),
}
_BY_KEY: Final = {name.lower(): info for name, info in ACTIONS.items()}


def permitted(action: str, writeperm: frozenset[str]) -> bool:
    """Whether a user with these write classes may send the action (its name in any case)."""
    info = _BY_KEY.get(action.lower())
    return info is not None and (not info.authority or bool(info.authority & writeperm))


def privileges(authority: frozenset[str]) -> str:
    if not authority:
        return "<none>"
    return ",".join([c for c in CLASSES if c in authority] + ["all"])


def command_list(writeperm: frozenset[str]) -> Fields:
    """The body of ListCommands' answer for a user with these write classes."""
    return [
        (name, f"{info.synopsis} (Priv: {privileges(info.authority)})")
        for name, info in sorted(ACTIONS.items(), key=lambda item: item[0].lower())
        if permitted(name, writeperm)
    ]
