"""Every real capture replayed over loopback TCP, in chunks from 1 byte up, through the whole
path: AMI link, translator, state model and bus. The model must tell the same story each time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cti.ami.feed import PbxFeed
from cti.core.events import (
    AgentChanged,
    AgentState,
    CallEnded,
    CallEvent,
    CallRinging,
    CallSnapshot,
    EndSource,
    GapReport,
    Outcome,
)
from tests import amitraces
from tests.ami.feeding import Feeding, running_feed
from tests.ami.replay_server import ReplayServer, replaying

CHUNKS = [1500, 64, 7]


def feeding(server: ReplayServer, sieve: bool = True, **settings: Any) -> Feeding:
    return running_feed(server.port, sieve=sieve, **{"ping_interval": 5.0, **settings})


def ended(events: list[Any]) -> list[CallSnapshot]:
    return [e.call for e in events if isinstance(e, CallEnded)]


async def replay(
    name: str, chunk: int, cut_after: str = "", sieve: bool = True, late: bool = False
) -> tuple[list[CallSnapshot], list[Any], PbxFeed]:
    """Replays a capture with calls in it until every call the model tracks has ended."""
    async with (
        replaying(name, chunk, cut_after, late) as server,
        feeding(server, sieve) as (feed, seen),
    ):
        await asyncio.wait_for(server.finished.wait(), 20)
        await seen.until(lambda: bool(ended(seen)) and len(feed.state.calls) == 0)
        return ended(seen), list(seen), feed


@pytest.mark.parametrize("chunk", CHUNKS)
async def test_answered(chunk: int) -> None:
    (call,), events, _ = await replay("answered", chunk)
    assert (call.number, call.name, call.agent_name) == ("+14155550100", "Jane Roe", "Alice")
    assert call.outcome is Outcome.ANSWERED
    assert call.ring_seconds == pytest.approx(1.0, abs=0.05)
    assert call.talk_seconds == pytest.approx(3.5, abs=0.05)
    pops = [e.member_name for e in events if isinstance(e, CallRinging)]
    assert pops == ["Alice"]


@pytest.mark.parametrize("chunk", CHUNKS)
async def test_abandoned(chunk: int) -> None:
    (call,), _, _ = await replay("abandon", chunk)
    assert call.outcome is Outcome.ABANDONED
    assert call.wait_seconds == pytest.approx(3.5, abs=0.6)


async def test_utf8_name_intact_at_one_byte_per_write() -> None:
    calls, _, _ = await replay("anonymous", 1)
    assert [c.name for c in calls] == ["Anonymous", "王先生"]


@pytest.mark.parametrize("chunk", CHUNKS)
async def test_ring_no_answer_and_dump(chunk: int) -> None:
    (rna,), _, _ = await replay("rna", chunk)
    assert rna.outcome is Outcome.ABANDONED
    assert len(rna.attempts) >= 4
    (dump,), _, _ = await replay("dump", chunk)
    assert dump.outcome is Outcome.QUEUE_TIMEOUT
    assert len(dump.attempts) >= 5


async def test_ringall_loser_is_withdrawn() -> None:
    (call,), events, feed = await replay("ringnoanswer", 64)
    assert call.agent_name == "Dave"
    assert sorted(e.member_name for e in events if isinstance(e, CallRinging)) == ["Carol", "Dave"]
    states = {a.name: a.state for a in feed.state.floor.agents(call.ended_at or call.started_at)}
    assert states["Carol"] is AgentState.AVAILABLE


@pytest.mark.parametrize("name", amitraces.names_with_calls())
async def test_every_capture_ends_every_call(name: str) -> None:
    calls, _, feed = await replay(name, 512)
    assert calls, f"{name}: no call ended"
    assert len(feed.state.calls) == 0
    assert all(c.outcome is not None for c in calls)


@pytest.mark.parametrize("name", amitraces.names_with_calls())
async def test_the_sieve_drops_only_events_the_model_never_reads(name: str) -> None:
    """bench/ami_ingest.py times the feed with and without its sieve: both tell the same story."""

    def story(calls: list[CallSnapshot]) -> list[tuple[object, ...]]:
        return [(c.number, c.name, c.outcome, c.agent_name, len(c.attempts)) for c in calls]

    sieved, _, _ = await replay(name, 512)
    unsieved, _, _ = await replay(name, 512, sieve=False)
    assert story(unsieved) == story(sieved)


async def test_restart_ends_the_call_once_after_the_resync() -> None:
    calls, events, feed = await replay("restart", 64)
    (call,) = calls
    # Alice had answered: that stays true; the restart ended the talk, when the link went.
    assert (call.outcome, call.end_reason) == (Outcome.ANSWERED, "pbx-restart")
    assert call.agent_name == "Alice"
    assert call.end_source is EndSource.OUTAGE
    gaps = [e for e in events if isinstance(e, GapReport)]
    assert [(e.ended, e.restarted, e.reconciled) for e in gaps] == [((call.call_id,), True, 0)]
    assert call.ended_at == gaps[0].lost_at
    assert feed.link.connects == 2
    alice = [e.agent for e in events if isinstance(e, AgentChanged) and e.agent.name == "Alice"]
    assert alice[-1].state is not AgentState.IN_CALL


@pytest.mark.parametrize("chunk", CHUNKS)
async def test_a_call_completed_just_before_the_cut_is_answered_not_cut(chunk: int) -> None:
    """The PBX dies right after AgentComplete: the Hangups never come, the call was over."""
    (call,), events, _ = await replay("answered", chunk, cut_after="AgentComplete")
    assert (call.outcome, call.end_reason, call.end_source) == (
        Outcome.ANSWERED,
        "agent",
        EndSource.LIVE,
    )
    # Timed as if the Hangups had come: they follow AgentComplete at once.
    assert call.talk_seconds == pytest.approx(3.5, abs=0.05)
    assert call.pbx_talk_seconds == 4, "the capture's AgentComplete TalkTime"
    assert not any(isinstance(e, GapReport) and e.reconciled for e in events)


@pytest.mark.parametrize("chunk", CHUNKS)
async def test_the_end_of_a_call_told_during_the_resync_makes_no_second_call(chunk: int) -> None:
    """The call ended while cti logged in again: the resync finds it gone, then its last events
    (the loser's leg, the answer, the hangups) arrive. They are history, not a new call."""
    calls, events, feed = await replay("ringnoanswer", chunk, cut_after="AgentCalled", late=True)
    (call,) = calls
    assert call.outcome is Outcome.LINK_DOWN
    assert len({e.call.call_id for e in events if isinstance(e, CallEvent)}) == 1
    assert len(feed.state.calls) == 0


async def test_an_outage_whose_first_resync_fails_is_told_from_its_start() -> None:
    """The PBX restarts with a call waiting; at the first login back it is too busy to answer
    QueueStatus, and the link drops again. The login after that ends the call as of the first
    loss, as cut off by the restart, not as of the second loss with its fate unknown."""
    async with (
        replaying(
            "ringnoanswer", 1500, cut_after="AgentCalled", stall=5.0, stall_session=2
        ) as server,
        feeding(server, action_timeout=1.0, ping_interval=1.0, ping_timeout=0.5) as (feed, seen),
    ):
        await seen.until(lambda: bool(ended(seen)))
        (call,) = ended(seen)
        gaps = [e for e in seen if isinstance(e, GapReport)]
        assert server.sessions >= 3
    assert call.outcome is Outcome.PBX_RESTART
    assert [g.lost_at for g in gaps] == [call.ended_at]
    assert call.ended_at is not None
    assert server.eof_at is not None
    assert abs(call.ended_at.timestamp() - server.eof_at) < 0.3, "the first loss"
    assert feed.resyncs == 2
