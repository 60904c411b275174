"""Drops the events no one reads before they are parsed, judging by their raw bytes.

A busy Asterisk sends many events the service never uses (Newexten, DeviceStateChange, the
Bridge and Local events, VarSet for every dialplan variable): under load they were four in ten
of all frames, each decoded, split into headers, queued and handed on only to be ignored. Asterisk
writes `Event: <name>` as an event's first line (ground truth §1.9), so the name can be read
without parsing. A frame that answers an action (it carries an ActionID) always passes, and so
does anything that does not start like an event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

_EVENT: Final = b"Event: "
_ACTION_ID: Final = b"\r\nActionID: "
_VARIABLE: Final = b"\r\nVariable: "


class EventSieve:
    __slots__ = ("_names", "_variables", "skipped")

    def __init__(self, names: Iterable[str], variables: Iterable[str] | None = None) -> None:
        """Keep the events called `names`; of VarSet events, only those setting `variables`
        (all of them if None)."""
        self._names = frozenset(name.encode() for name in names)
        self._variables = None if variables is None else frozenset(v.encode() for v in variables)
        self.skipped = 0

    def keeps(self, raw: bytes) -> bool:
        if not raw.startswith(_EVENT):
            return True
        end = raw.find(b"\r\n")
        name = raw[len(_EVENT) : end] if end >= 0 else raw[len(_EVENT) :]
        if name == b"VarSet" and self._variables is not None and name in self._names:
            kept = self._variable(raw) in self._variables
        else:
            kept = name in self._names
        if kept or _ACTION_ID in raw:
            return True
        self.skipped += 1
        return False

    @staticmethod
    def _variable(raw: bytes) -> bytes:
        start = raw.find(_VARIABLE)
        if start < 0:
            return b""
        start += len(_VARIABLE)
        end = raw.find(b"\r\n", start)
        return raw[start:end] if end >= 0 else raw[start:]
