"""One PBX's calls, agents and queues: observations in, domain events out. Pure and synchronous."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from cti.core import observations as obs
from cti.core.calls import CallTracker
from cti.core.events import CallEvent, GapReport
from cti.core.floor import Floor, FloorEvent

DomainEvent = CallEvent | GapReport | FloorEvent


class PbxState:
    def __init__(
        self, pbx: str, wrapup_seconds: Mapping[str, int], devices: Iterable[str] = ()
    ) -> None:
        self.pbx = pbx
        self.floor = Floor(pbx, wrapup_seconds, devices)
        self.calls = CallTracker(pbx, self.floor.agent_of, self.floor.member_named)

    def apply(self, event: obs.Observation) -> list[DomainEvent]:
        if isinstance(event, obs.Resynced | obs.QueuesResynced):
            # The calls of a resync are matched to agents: the members must be known first.
            self.floor.resync(event)
        call_events = self.calls.apply(event)
        return [*call_events, *self.floor.apply(event, call_events, event.at)]

    def tick(self, now: datetime) -> list[DomainEvent]:
        return list(self.floor.tick(now))
