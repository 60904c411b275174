"""State model cases the captures do not hold: failed dials, busy, unavailable agents, members."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cti.core import observations as obs
from cti.core.events import (
    AgentChanged,
    AgentState,
    CallEnded,
    Direction,
    Outcome,
    RingResult,
    RingStopped,
)
from cti.core.pbx_state import PbxState
from tests.core.test_model_from_traces import run

AT = datetime(2026, 11, 29, 9, tzinfo=UTC)


def member(status: int, paused: bool = False, reason: str = "") -> obs.MemberChanged:
    return obs.MemberChanged(
        "p",
        AT,
        obs.MemberInfo(
            "q",
            "PJSIP/1001",
            "Zoe",
            "PJSIP/1001",
            ("PJSIP/1001",),
            False,
            status,
            paused,
            reason,
            0,
        ),
    )


def outbound(status: str) -> list[object]:
    state = PbxState("p", {}, devices=["PJSIP/1001"])
    phone = obs.ChannelInfo("1.1", "1.1", "PJSIP/1001-00000001", "PJSIP/1001", 6, "1001", "Zoe")
    trunk = obs.ChannelInfo(
        "1.2", "1.1", "PJSIP/trunk-00000002", "PJSIP/trunk", 0, "", "", exten="0033142685300"
    )
    events: list[object] = []
    for observation in (
        obs.ChannelSeen("p", AT, phone),
        obs.DialStarted("p", AT, "1.1", trunk, "PJSIP/trunk/0033142685300"),
        obs.DialEnded("p", AT + timedelta(seconds=3), "1.1", trunk, status),
        obs.ChannelGone("p", AT + timedelta(seconds=3), trunk, 34, "Circuit/channel congestion"),
        obs.ChannelGone("p", AT + timedelta(seconds=3), phone, 16, "Normal Clearing"),
    ):
        events += state.apply(observation)
    return events


def test_outbound_calls_that_fail_busy_or_go_unanswered() -> None:
    expected = {
        "CHANUNAVAIL": Outcome.FAILED,
        "CONGESTION": Outcome.FAILED,
        "BUSY": Outcome.BUSY,
        "NOANSWER": Outcome.RING_NO_ANSWER,
        "ANSWER": Outcome.ANSWERED,
    }
    for status, outcome in expected.items():
        (call,) = [e.call for e in outbound(status) if isinstance(e, CallEnded)]
        assert (call.direction, call.number, call.outcome) == (
            Direction.OUTBOUND,
            "0033142685300",
            outcome,
        ), status
        assert call.agent_interface == "PJSIP/1001"


def test_agent_states_from_member_status_and_pause() -> None:
    state = PbxState("p", {})
    cases = [
        (member(1), AgentState.AVAILABLE),
        (member(5), AgentState.UNAVAILABLE),
        (member(4), AgentState.UNAVAILABLE),
        (member(2), AgentState.IN_CALL),
        (member(6), AgentState.RINGING),
        (member(1, paused=True, reason="training"), AgentState.PAUSED),
    ]
    for observation, wanted in cases:
        state.apply(observation)
        (zoe,) = state.floor.agents(AT)
        assert zoe.state is wanted, observation
    assert zoe.paused_reason == "training"


def test_dynamic_member_added_paused_and_removed() -> None:
    _, events = run("dynamic")
    dave = [e.agent for e in events if isinstance(e, AgentChanged) and e.agent.name == "Dave"]
    assert dave[0].queues == ("sales", "support")
    paused = [a for a in dave if a.paused_queues]
    assert paused[0].paused_queues == ("support",)
    assert paused[0].paused_reason
    assert paused[0].state is AgentState.AVAILABLE, "still taking sales calls"
    assert dave[-1].queues == ("sales",)


def test_a_busy_agent_in_a_queue_is_a_ring_attempt_ended_busy() -> None:
    _, events = run("rna")
    stopped = [e for e in events if isinstance(e, RingStopped)]
    frank = {e.result for e in stopped if e.interface.startswith("Local/agent6")}
    carol = {e.result for e in stopped if e.interface.startswith("Local/agent3")}
    assert (frank, carol) == ({RingResult.BUSY}, {RingResult.NO_ANSWER})
