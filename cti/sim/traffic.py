"""A floor that looks alive: calls arrive at the configured rate with the configured mix.

Each call kind is an ordinary call whose plan makes the outcome happen: agents that answer, never
answer, are busy or dump the call, callers who give up, queue timeouts, direct calls and
click-to-dial. Who gets rung is the queue's business, so an agent in a call or in wrap-up is not
rung and callers wait for a free agent as they would on a real PBX.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING

from cti.sim.config import CALL_KINDS, CallKind, SimulatorConfig
from cti.sim.dialplan import num
from cti.sim.originate import OriginateRequest, originate
from cti.sim.plans import CallPlan
from cti.sim.scenarios import action_id

if TYPE_CHECKING:
    from cti.sim.pbx import Pbx

logger = logging.getLogger(__name__)


class Traffic:
    def __init__(self, pbx: Pbx) -> None:
        self.pbx = pbx
        self.placed = 0

    @property
    def config(self) -> SimulatorConfig:
        return self.pbx.config

    @property
    def rng(self) -> random.Random:
        return self.pbx.rng

    async def run(self) -> None:
        """Place calls forever; gaps between arrivals are exponential (a Poisson process)."""
        rate = self.config.calls_per_minute / 60.0
        if rate <= 0:
            return
        kinds, weights = list(CALL_KINDS), self.config.mix.weights()
        while True:
            await self.pbx.clock.sleep(self.rng.expovariate(rate))
            kind = self.rng.choices(kinds, weights)[0]
            self.placed += 1
            self.pbx.spawn(self.place(kind), f"sim-traffic-{self.placed}-{kind}")

    def between(self, bounds: tuple[float, float]) -> float:
        return round(self.rng.uniform(*bounds), 1)

    def caller(self) -> str:
        draw = self.rng.random()
        if draw < self.config.anonymous_share:
            return self.rng.choice(["Anonymous <anonymous>", ""])
        if (
            draw < self.config.anonymous_share + self.config.unknown_share
            or not self.config.caller_numbers
        ):
            return f"+1415555{self.rng.randrange(10_000):04d}"
        return self.rng.choice(self.config.caller_numbers)

    async def place(self, kind: CallKind) -> None:
        if kind == "outbound":
            await self.outbound()
            return
        ring, talk = self.between(self.config.ring_seconds), self.between(self.config.talk_seconds)
        patience = self.between(self.config.patience_seconds)
        plan = CallPlan("answer", ring, talk)
        variables: list[tuple[str, str]] = []
        # The caller stays past the end of the talk, so the agent hangs up first; now and
        # then the caller ends the conversation instead (AgentComplete Reason caller).
        hold = patience + ring + talk + 5
        if self.rng.random() < 0.3:
            hold = patience + ring + talk * 0.6
        if kind == "abandoned":
            hold = patience
            plan.ring = patience + 60
        elif kind in ("ring_no_answer", "dump"):
            plan.agent_mode = "never" if kind == "ring_no_answer" else "dump"
            hold = patience
        elif kind == "queue_timeout":
            plan.agent_mode = "never"
            qtimeout = max(3, int(patience / 3))
            variables.append(("QTIMEOUT", str(qtimeout)))
            hold = qtimeout + 5
        elif kind == "busy":
            plan.first_busy = True
        exten = self.inbound_exten(kind)
        if exten is None:
            return
        variables.insert(0, ("CALLER_HOLD", num(round(hold, 1))))
        req = OriginateRequest(
            f"Local/{exten}@inbound", "caller", "s", callerid=self.caller(), variables=variables
        )
        req.plan = plan
        await self.dial(req)

    def inbound_exten(self, kind: CallKind) -> str | None:
        routes = self.config.routes
        if kind == "direct":
            direct = [r.exten for r in routes if r.kind == "direct"]
            return self.rng.choice(direct) if direct else None
        queues = list(self.config.traffic_queues)
        if kind == "dump":
            # AgentDump needs a queue with memberdelay (the agent hangs up before the bridge).
            delayed = [q.name for q in self.config.queues if q.member_delay]
            queues = [q for q in queues if q in delayed] or delayed or queues
        queue = self.rng.choice(queues)
        withheld = [r.exten for r in routes if r.withheld and r.target == queue]
        if withheld and self.rng.random() < self.config.anonymous_share:
            return withheld[0]
        route = self.config.route_for_queue(queue)
        return route.exten if route is not None else None

    async def outbound(self) -> None:
        """Click-to-dial from an idle agent: the agent leg first, then the customer."""
        now = self.pbx.clock.now()
        idle = sorted(
            {
                m.interface.removesuffix("/n")
                for name in self.config.traffic_queues
                for m in self.pbx.queues[name].members
                if self.pbx.queues[name].can_ring(m, now)
            }
        )
        if not idle:
            return
        agent = self.rng.choice(idle)
        number = "".join(c for c in self.caller() if c.isdigit()) or "15551230000"
        talk = self.between(self.config.talk_seconds)
        plan = CallPlan("answer", self.between((1.0, 3.0)), talk + 30)
        plan.customer_ring, plan.customer_talk = self.between(self.config.ring_seconds), talk
        req = OriginateRequest(agent, "outbound", number, callerid='"Support" <100>', timeout=20.0)
        req.plan = plan
        await self.dial(req)

    async def dial(self, req: OriginateRequest) -> None:
        req.action_id = action_id(self.pbx)
        outcome = await originate(self.pbx, req)
        if outcome.channel is not None:
            await self.pbx.ended(outcome.channel.linkedid)
