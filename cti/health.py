"""Connection health as state: each component reports ok, degraded or failed, with a reason."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger(__name__)

Status = Literal["ok", "degraded", "failed"]


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
        return self._components.get(component)

    def overall(self) -> Status:
        statuses = {c.status for c in self._components.values()}
        if "failed" in statuses:
            return "failed"
        if "degraded" in statuses:
            return "degraded"
        return "ok"

    def snapshot(self) -> dict[str, object]:
        return {
            "status": self.overall(),
            "components": {
                name: {
                    "status": c.status,
                    "reason": c.reason,
                    "notes": [*c.details, *self.notes(name)],
                }
                for name, c in sorted(self._components.items())
            },
        }
