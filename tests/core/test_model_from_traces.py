"""The call and queue state model fed the real captures, frame by frame, in process.

The same captures over real TCP, through the AMI link, are in tests/ami/test_replay.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cti.ami.frames import FrameSplitter, parse_frame
from cti.ami.translate import Translator, member_info
from cti.core.events import (
    AgentChanged,
    AgentState,
    CallDialled,
    CallEnded,
    CallRinging,
    CallSnapshot,
    Direction,
    Outcome,
    RingResult,
    RingStopped,
)
from cti.core.observations import MemberChanged
from cti.core.pbx_state import DomainEvent, PbxState
from tests import amitraces

EPOCH = datetime(2026, 11, 22, tzinfo=UTC)


def run(name: str) -> tuple[PbxState, list[DomainEvent]]:
    wrapup, members = amitraces.rig_queues()
    state = PbxState("rig", wrapup)
    translator = Translator("rig")
    for member in members:
        message = parse_frame(amitraces.queue_status_reply("r", [member]).split(b"\r\n\r\n")[1])
        state.apply(MemberChanged("rig", EPOCH, member_info(message)))
    events: list[DomainEvent] = []
    splitter = FrameSplitter()
    for frame in amitraces.load(name):
        if not frame.incoming:
            continue
        for raw in splitter.feed(frame.frame):
            observation = translator.translate(parse_frame(raw), EPOCH)
            if observation is not None:
                events += state.apply(observation)
    return state, events


def ended(events: list[DomainEvent]) -> list[CallSnapshot]:
    return [e.call for e in events if isinstance(e, CallEnded)]


def test_answered_call_alice_rang_one_second_and_talked() -> None:
    state, events = run("answered")
    (call,) = ended(events)
    assert (call.direction, call.number, call.name) == (
        Direction.INBOUND,
        "+14155550100",
        "Jane Roe",
    )
    assert (call.queue, call.agent_name, call.outcome) == ("support", "Alice", Outcome.ANSWERED)
    assert call.ring_seconds == pytest.approx(1.0, abs=0.05)
    assert call.wait_seconds == pytest.approx(1.0, abs=0.05)
    assert call.talk_seconds == pytest.approx(3.5, abs=0.05)
    assert call.hangup_cause == 16
    assert call.end_reason == "agent"
    rings = [e for e in events if isinstance(e, CallRinging)]
    assert [(r.interface, r.member_name) for r in rings] == [("Local/agent1@agents/n", "Alice")]
    alice = [
        e.agent.state for e in events if isinstance(e, AgentChanged) and e.agent.name == "Alice"
    ]
    assert list(dict.fromkeys(alice)) == [
        AgentState.RINGING,
        AgentState.IN_CALL,
        AgentState.WRAP_UP,
    ]
    wrapup_start = state.floor.agents(EPOCH)[0].since
    assert state.tick(wrapup_start + timedelta(seconds=1)) == [], "wrap-up lasts 2 s"
    (back,) = state.tick(wrapup_start + timedelta(seconds=2))
    assert isinstance(back, AgentChanged)
    assert (back.agent.name, back.agent.state) == ("Alice", AgentState.AVAILABLE)
    assert len(state.calls) == 0


def test_abandoned_caller_waited_about_four_seconds_while_agents_were_paused() -> None:
    state, events = run("abandon")
    (call,) = ended(events)
    assert (call.number, call.outcome, call.attempts) == ("5551234", Outcome.ABANDONED, ())
    assert call.wait_seconds == pytest.approx(3.5, abs=0.6)
    reasons = {
        e.agent.name: e.agent.paused_reason
        for e in events
        if isinstance(e, AgentChanged) and e.agent.state is AgentState.PAUSED
    }
    assert reasons == {"Alice": "lunch", "Bob": "training"}
    assert {a.name: a.state for a in state.floor.agents(EPOCH)}["Alice"] is AgentState.AVAILABLE


def test_ringall_pops_both_agents_and_withdraws_the_loser() -> None:
    _, events = run("ringnoanswer")
    rung = [e.member_name for e in events if isinstance(e, CallRinging)]
    assert sorted(rung) == ["Carol", "Dave"]
    stopped = {e.interface: e.result for e in events if isinstance(e, RingStopped)}
    assert stopped == {
        "Local/agent4@agents/n": RingResult.ANSWERED,
        "Local/agent3@agents/n": RingResult.ANSWERED_ELSEWHERE,
    }
    (call,) = ended(events)
    assert (call.agent_name, call.outcome, call.number) == ("Dave", Outcome.ANSWERED, "02079460018")


def test_ring_no_answer_cycles_then_the_caller_gives_up() -> None:
    _, events = run("rna")
    (call,) = ended(events)
    assert call.outcome is Outcome.ABANDONED
    results = [(a.member_name, a.result) for a in call.attempts]
    assert len(results) >= 4
    assert {r for _, r in results} == {RingResult.NO_ANSWER, RingResult.BUSY}
    carol = [a.ring_seconds for a in call.attempts if a.member_name == "Carol"]
    assert carol
    assert all(s == pytest.approx(3.0, abs=0.05) for s in carol if s is not None)


def test_agent_dump_on_every_retry() -> None:
    _, events = run("dump")
    (call,) = ended(events)
    assert call.outcome is Outcome.QUEUE_TIMEOUT, "Queue(dump,...,12) gave up after 12 s"
    assert len(call.attempts) >= 5
    assert all(a.result is RingResult.DUMPED for a in call.attempts)


def test_queue_timeout_is_not_an_abandon() -> None:
    _, events = run("qtimeout")
    (call,) = ended(events)
    assert call.outcome is Outcome.QUEUE_TIMEOUT
    assert call.wait_seconds == pytest.approx(3.0, abs=0.1)


def test_utf8_and_anonymous_callers() -> None:
    _, events = run("anonymous")
    first, second = ended(events)
    assert (first.number, first.name, first.agent_name) == ("anonymous", "Anonymous", "Bob")
    assert (second.number, second.name, second.agent_name) == ("+8613812345678", "王先生", "Alice")


def test_a_withheld_caller_is_marked_before_the_agent_rings() -> None:
    _, events = run("withheld")
    (call,) = ended(events)
    assert (call.number, call.withheld) == ("+14155550115", True)
    # Only the agent's leg carried "Presentation Prohibited", just before AgentCalled.
    assert [e.call.withheld for e in events if isinstance(e, CallRinging)] == [True]
    for name in ("answered", "anonymous", "clicktodial"):
        assert not any(c.withheld for c in ended(run(name)[1])), name


def test_click_to_dial_is_an_outbound_call_of_the_agent() -> None:
    _, events = run("clicktodial")
    (call,) = ended(events)
    assert (call.direction, call.number, call.agent_name) == (
        Direction.OUTBOUND,
        "15551230000",
        "Alice",
    )
    assert call.outcome is Outcome.ANSWERED
    assert not [e for e in events if isinstance(e, CallRinging)], "one's own phone rang"
    (dialled,) = [e for e in events if isinstance(e, CallDialled)]
    assert (dialled.interface, dialled.call.number) == (call.agent_interface, "15551230000")


def test_recording_file_name_and_caller_hangup_reason() -> None:
    _, events = run("callerhangup")
    (call,) = ended(events)
    assert call.recording.endswith(".wav")
    assert call.end_reason == "caller"


def test_restart_leaves_the_call_open_until_the_resync() -> None:
    state, events = run("restart")
    assert not ended(events)
    assert len(state.calls) == 1
