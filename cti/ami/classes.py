"""Asterisk's manager classes (manager.c `perms`): what `read=` and `write=` in manager.conf, the
Login `Events:` header, event `Privilege:` headers and ListCommands' `(Priv: ...)` all name.

An event is sent to a session only if the user may read its class and the session's event mask
includes it; an action runs only if the user may write one of its classes (ground truth §1.9).
"""

from __future__ import annotations

from typing import Final

# In manager.c's order, which is also the order of the bits (system = 1, call = 2, ...).
CLASSES: Final = (
    "system",
    "call",
    "log",
    "verbose",
    "command",
    "agent",
    "user",
    "config",
    "dtmf",
    "reporting",
    "cdr",
    "dialplan",
    "originate",
    "agi",
    "cc",
    "aoc",
    "test",
    "security",
    "message",
)
ALL: Final = frozenset(CLASSES)
_TRUE: Final = frozenset({"yes", "true", "y", "t", "on"})
_FALSE: Final = frozenset({"no", "false", "n", "f", "off"})


def parse_classes(text: str) -> frozenset[str]:
    """A class list as strings_to_mask reads it: a number (bits), a yes/no word, or names
    separated by commas, compared exactly ("call, agent" names "call" and " agent")."""
    if text.isdigit():
        bits = int(text)
        return frozenset(name for index, name in enumerate(CLASSES) if bits & 1 << index)
    if text.lower() in _FALSE:
        return frozenset()
    if text.lower() in _TRUE:
        return ALL
    names = frozenset(text.split(","))
    return ALL if "all" in names else names & ALL


def privilege(header: str) -> frozenset[str]:
    """The classes of an event from its `Privilege:` header (`call,all`)."""
    return frozenset(header.split(",")) & ALL
