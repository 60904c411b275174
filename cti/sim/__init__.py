"""A simulated Asterisk 22 PBX speaking AMI over TCP, for the demo, the tests and the benchmarks.

It behaves like the PBX that recorded tests/data/ami-traces/: same banner, responses, event names,
field sets, units and ordering (see ground truth §1-2), with queues, members, callers and agents
driven by a small dialplan interpreter instead of SIP phones. Its manager users have the rig's
rights: `cti` reads and writes all cti needs, `cti_limited` (read = call,agent; write =
call,agent,originate) too little, as Asterisk enforces it.
"""

from cti.sim.config import (
    AgentProfile,
    InboundRoute,
    ManagerUser,
    MemberConfig,
    Mix,
    QueueConfig,
    SimulatorConfig,
)
from cti.sim.scenarios import SCENARIOS
from cti.sim.simulator import SimulatorHandle, run_simulator

__all__ = [
    "SCENARIOS",
    "AgentProfile",
    "InboundRoute",
    "ManagerUser",
    "MemberConfig",
    "Mix",
    "QueueConfig",
    "SimulatorConfig",
    "SimulatorHandle",
    "run_simulator",
]
