"""How the people on one call behave: the agents it rings and the customer it calls.

Without a plan, an agent phone behaves as its AgentProfile says (the rig's [agents] dialplan). The
traffic generator and the scenarios attach a plan to the calls they make (by linkedid) to choose
each call's outcome: who answers, after how long, for how long, and who hangs up.
"""

from __future__ import annotations

from dataclasses import dataclass

from cti.sim.config import AgentMode, AgentProfile


@dataclass(slots=True)
class CallPlan:
    agent_mode: AgentMode = "answer"
    ring: float = 1.0
    talk: float = 3.0
    # The first agent rung is busy (DialEnd BUSY, AgentRingNoAnswer RingTime 0), later ones follow
    # agent_mode.
    first_busy: bool = False
    customer_ring: float = 1.0
    customer_talk: float = 2.0
    rung: int = 0

    def agent(self, device: str) -> AgentProfile:
        self.rung += 1
        if self.first_busy and self.rung == 1:
            return AgentProfile(device, "busy")
        return AgentProfile(device, self.agent_mode, self.ring, self.talk)

    def customer(self, device: str) -> AgentProfile:
        return AgentProfile(device, "answer", self.customer_ring, self.customer_talk)
