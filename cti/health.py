"""Connection health as state: each component reports ok, degraded or failed, with a reason.

- failed: the component cannot do its job (a PBX link down, refused or unable to resync, the
  database unreachable). /healthz answers 503 while any component has failed.
- degraded: it serves, with limits its reason and notes name (missing manager rights, calls not
  read at resync, an interface that rings nobody). /healthz still answers 200.
- ok: nothing to report.

Notes are standing problems a component found on its way (note_once): a component with notes is
at least degraded, and shows in /healthz even if it never reported a status itself.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger(__name__)

Status = Literal["ok", "degraded", "failed"]
_RANK: dict[Status, int] = {"ok": 0, "degraded": 1, "failed": 2}


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    status: Status
    reason: str = ""
    # What the reason means in practice, one line each (what will not work, and why).
    details: tuple[str, ...] = ()


class HealthRegistry:
    def __init__(self) -> None:
        self._components: dict[str, ComponentHealth] = {}
        self._notes: dict[str, set[str]] = {}

    def report(
        self, component: str, status: Status, reason: str = "", details: Sequence[str] = ()
    ) -> None:
        """Record a component's state; a change is logged once, a repeat is silent."""
        new = ComponentHealth(status, reason, tuple(details))
        old = self._components.get(component)
        self._components[component] = new
        if old != new:
            level = logging.INFO if status == "ok" else logging.WARNING
            said = "".join(f"; {detail}" for detail in new.details)
            logger.log(
                level, "%s is %s%s%s", component, status, f": {reason}" if reason else "", said
            )

    def note_once(self, component: str, note: str) -> bool:
        """Remember a standing problem (an unmapped interface); True the first time it is seen."""
        seen = self._notes.setdefault(component, set())
        if note in seen:
            return False
        seen.add(note)
        return True

    def notes(self, component: str) -> list[str]:
        return sorted(self._notes.get(component, ()))

    def get(self, component: str) -> ComponentHealth | None:
        """What the component last reported, if it did."""
        return self._components.get(component)

    def status(self, component: str) -> Status:
        """The component's state in /healthz: what it reported, at least degraded with notes."""
        reported = self._components.get(component)
        status: Status = "ok" if reported is None else reported.status
        if self._notes.get(component) and _RANK[status] < _RANK["degraded"]:
            return "degraded"
        return status

    def _names(self) -> list[str]:
        return sorted({*self._components, *(c for c, notes in self._notes.items() if notes)})

    def overall(self) -> Status:
        return max((self.status(c) for c in self._names()), key=_RANK.__getitem__, default="ok")

    def snapshot(self) -> dict[str, object]:
        components: dict[str, object] = {}
        for name in self._names():
            reported = self._components.get(name)
            components[name] = {
                "status": self.status(name),
                "reason": "" if reported is None else reported.reason,
                "notes": [*(() if reported is None else reported.details), *self.notes(name)],
            }
        return {"status": self.overall(), "components": components}
