"""What the simulated PBX looks like: queues, agent phones, inbound numbers and the traffic to make.

The defaults reproduce `deploy/asterisk/` (the PBX that recorded `tests/data/ami-traces/`), so a
client sees the same queues, members and extensions as in the captures. Durations are simulated
seconds; `time_scale` maps them to wall-clock seconds (0.01 runs a 4 s call in 0.04 s, 0 runs as
fast as the event loop allows, with a virtual clock).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

from cti.errors import ConfigError

Strategy = Literal["rrmemory", "ringall", "linear"]
AgentMode = Literal["answer", "never", "busy", "dump", "ringing"]
RouteKind = Literal["queue", "direct", "userevent"]
CallKind = Literal[
    "answered",
    "abandoned",
    "ring_no_answer",
    "dump",
    "queue_timeout",
    "busy",
    "direct",
    "outbound",
]
CALL_KINDS: tuple[CallKind, ...] = get_args(CallKind)


@dataclass(frozen=True, slots=True)
class MemberConfig:
    """A static queue member, as a `member =>` line in queues.conf."""

    interface: str
    name: str
    state_interface: str = ""
    penalty: int = 0

    @property
    def device(self) -> str:
        """The device whose state drives the member status (the state interface)."""
        if self.state_interface:
            return self.state_interface
        return self.interface.removesuffix("/n")


@dataclass(frozen=True, slots=True)
class QueueConfig:
    name: str
    strategy: Strategy = "rrmemory"
    timeout: int = 8
    retry: int = 1
    wrapup: int = 0
    service_level: int = 60
    member_delay: int = 0
    record: bool = False
    # setinterfacevar + setqueueentryvar: MEMBER* and QE* variables on connect (VarSet events).
    interface_vars: bool = False
    members: tuple[MemberConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """How one agent phone behaves when rung (the rig's [agents] dialplan), unless a call says."""

    device: str
    mode: AgentMode = "answer"
    ring: float = 1.0
    talk: float = 3.0


@dataclass(frozen=True, slots=True)
class InboundRoute:
    """An extension of the [inbound] context: into a queue, straight to an agent, or a UserEvent."""

    exten: str
    kind: RouteKind
    target: str = ""
    timeout: int = 60
    withheld: bool = False
    # Optional steps around Queue(): NoOp(Inbound ... from ...), Set(CDR(userfield)=<queue>),
    # NoOp(QUEUESTATUS=...) after it; the rig's extensions differ in which they have.
    announce: bool = True
    userfield: bool = True
    report: bool = True


@dataclass(frozen=True, slots=True)
class Mix:
    """Relative weights of the call kinds the traffic generator draws from."""

    answered: float = 62.0
    abandoned: float = 10.0
    ring_no_answer: float = 4.0
    dump: float = 2.0
    queue_timeout: float = 3.0
    busy: float = 5.0
    direct: float = 4.0
    outbound: float = 10.0

    def weights(self) -> list[float]:
        return [getattr(self, kind) for kind in CALL_KINDS]


def _local(agent: str, name: str) -> MemberConfig:
    return MemberConfig(f"Local/{agent}@agents/n", name, f"Local/{agent}@agents")


RIG_QUEUES = (
    QueueConfig(
        "support",
        "rrmemory",
        timeout=8,
        wrapup=2,
        service_level=20,
        interface_vars=True,
        members=(_local("agent1", "Alice"), _local("agent2", "Bob")),
    ),
    QueueConfig(
        "sales",
        "ringall",
        timeout=6,
        service_level=30,
        members=(_local("agent3", "Carol"), _local("agent4", "Dave")),
    ),
    QueueConfig(
        "rna", "linear", timeout=3, members=(_local("agent6", "Frank"), _local("agent3", "Carol"))
    ),
    QueueConfig("dump", "ringall", timeout=5, member_delay=1, members=(_local("agent5", "Eve"),)),
    QueueConfig(
        "recorded", "rrmemory", timeout=8, record=True, members=(_local("agent7", "Grace"),)
    ),
    QueueConfig("ringing", "rrmemory", timeout=8, members=(_local("agent8", "Heidi"),)),
)

RIG_AGENTS = (
    AgentProfile("Local/agent1@agents", "answer", 1, 3),
    AgentProfile("Local/agent2@agents", "answer", 2, 4),
    AgentProfile("Local/agent3@agents", "never", 30, 0),
    AgentProfile("Local/agent4@agents", "answer", 1, 2),
    AgentProfile("Local/agent5@agents", "dump", 0, 0),
    AgentProfile("Local/agent6@agents", "busy", 0, 0),
    AgentProfile("Local/agent7@agents", "answer", 1, 10),
    AgentProfile("Local/agent8@agents", "ringing", 2, 3),
)

# The rig's [customer] numbers that do not pick up; every other number answers (the `_X.` pattern).
RIG_CUSTOMERS = (
    AgentProfile("Local/14155550170@customer", "busy", 0, 0),
    AgentProfile("Local/14155550171@customer", "never", 40, 0),
)


def _bare(exten: str, queue: str, timeout: int) -> InboundRoute:
    return InboundRoute(
        exten, "queue", queue, timeout, announce=False, userfield=False, report=False
    )


RIG_ROUTES = (
    InboundRoute("100", "queue", "support", 60),
    InboundRoute("101", "queue", "support", 60, withheld=True),
    InboundRoute("200", "queue", "sales", 60, userfield=False, report=False),
    InboundRoute("300", "direct", "Local/agent1@agents/n", 15),
    _bare("310", "rna", 30),
    _bare("320", "dump", 12),
    _bare("330", "recorded", 30),
    InboundRoute("340", "userevent"),
    _bare("350", "ringing", 30),
)

# The rig's manager users (deploy/asterisk/manager.conf and the limited user of ground truth §5).
RIG_READ = frozenset({"system", "call", "agent", "user", "dialplan", "cdr"})
RIG_WRITE = frozenset({"system", "call", "agent", "user", "originate", "command", "reporting"})


@dataclass(frozen=True, slots=True)
class ManagerUser:
    """A manager.conf user: its secret, the event classes it reads, the action classes it sends."""

    name: str
    secret: str
    read: frozenset[str] = RIG_READ
    write: frozenset[str] = RIG_WRITE


# Too few rights for cti: no system or dialplan events, no CoreShowChannels or Filter.
LIMITED_USER = ManagerUser(
    "cti_limited",
    "limitedsecret",
    read=frozenset({"call", "agent"}),
    write=frozenset({"call", "agent", "originate"}),
)

DEMO_CALLERS = (
    '"Jane Roe" <+14155550100>',
    '"Acme Ltd" <020 7946 0018>',
    '"Pierre Martin" <+33142685300>',
    '"王先生" <+8613812345678>',
    '"O\'Brien & Sons" <+35314567890>',
    "+14155550123",
)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0
    # The main manager user, with the rig's rights; `users` are the others.
    username: str = "cti"
    secret: str = "ctisecret"
    users: tuple[ManagerUser, ...] = (LIMITED_USER,)
    queues: tuple[QueueConfig, ...] = RIG_QUEUES
    agents: tuple[AgentProfile, ...] = RIG_AGENTS
    customers: tuple[AgentProfile, ...] = RIG_CUSTOMERS
    routes: tuple[InboundRoute, ...] = RIG_ROUTES
    # Queues the traffic generator sends calls to; each needs an inbound route.
    traffic_queues: tuple[str, ...] = ("support", "sales")
    calls_per_minute: float = 4.0
    mix: Mix = field(default_factory=Mix)
    talk_seconds: tuple[float, float] = (20.0, 90.0)
    ring_seconds: tuple[float, float] = (1.0, 6.0)
    patience_seconds: tuple[float, float] = (15.0, 60.0)
    # Callers as Originate CallerID strings ('"Name" <number>' or a bare number).
    caller_numbers: tuple[str, ...] = DEMO_CALLERS
    unknown_share: float = 0.15
    anonymous_share: float = 0.05
    time_scale: float = 1.0
    seed: int | None = None
    # The rig maps CDR(linkedid) into Cdr events and enables CEL (the later captures show both).
    cdr_linkedid: bool = True
    cel: bool = True
    # Share of AgentComplete events sent without channel blocks (2 of 10 in the captures).
    complete_without_channels: float = 0.2
    # Share sent only after the call's last channel hung up (the same race, seen on live PBXs).
    complete_after_hangup: float = 0.0
    # Where app_queue's queue_log goes ("" writes none), as Asterisk's /var/log/asterisk/queue_log.
    queue_log: str = ""
    # Seconds the PBX has been up when the simulator starts (FullyBooted's Uptime).
    uptime: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.port < 65536:
            raise ConfigError("sim.port", f"must be between 0 and 65535, got {self.port}")
        if self.time_scale < 0:
            raise ConfigError("sim.time_scale", "must be 0 (virtual clock) or positive")
        if self.calls_per_minute < 0:
            raise ConfigError("sim.calls_per_minute", "must not be negative")
        for key in ("talk_seconds", "ring_seconds", "patience_seconds"):
            low, high = getattr(self, key)
            if not 0 <= low <= high:
                raise ConfigError(f"sim.{key}", "must be (low, high) with 0 <= low <= high")
        if sum(self.mix.weights()) <= 0:
            raise ConfigError("sim.mix", "at least one weight must be positive")
        names = [self.username, *(u.name for u in self.users)]
        if len(set(names)) != len(names):
            raise ConfigError("sim.users", "manager user names must be unique")
        self._check_queues()
        self._check_routes()

    def _check_queues(self) -> None:
        names = [q.name for q in self.queues]
        if len(set(names)) != len(names):
            raise ConfigError("sim.queues", "queue names must be unique")
        for i, queue in enumerate(self.queues):
            if queue.strategy not in ("rrmemory", "ringall", "linear"):
                raise ConfigError(f"sim.queues[{i}].strategy", f"unknown: {queue.strategy}")
            ifaces = [m.interface for m in queue.members]
            if len(set(ifaces)) != len(ifaces):
                raise ConfigError(f"sim.queues[{i}].members", "an interface is listed twice")

    def _check_routes(self) -> None:
        names = {q.name for q in self.queues}
        for i, route in enumerate(self.routes):
            if route.kind == "queue" and route.target not in names:
                raise ConfigError(f"sim.routes[{i}].target", f"no queue {route.target!r}")
        for name in self.traffic_queues:
            if self.route_for_queue(name) is None:
                raise ConfigError("sim.traffic_queues", f"queue {name!r} has no inbound route")

    def user(self, name: str) -> ManagerUser | None:
        if name == self.username:
            return ManagerUser(self.username, self.secret)
        return next((u for u in self.users if u.name == name), None)

    def queue(self, name: str) -> QueueConfig | None:
        return next((q for q in self.queues if q.name == name), None)

    def route(self, exten: str) -> InboundRoute | None:
        return next((r for r in self.routes if r.exten == exten), None)

    def route_for_queue(self, queue: str) -> InboundRoute | None:
        return next(
            (r for r in self.routes if r.kind == "queue" and r.target == queue and not r.withheld),
            None,
        )

    def profile(self, device: str) -> AgentProfile:
        found = next((a for a in self.agents if a.device == device), None)
        return found or AgentProfile(device)

    def customer(self, device: str) -> AgentProfile | None:
        """A dialled customer the dialplan gives its own extension, if any."""
        return next((c for c in self.customers if c.device == device), None)
