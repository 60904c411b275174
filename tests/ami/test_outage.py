"""Calls that end while the AMI link is down: timed to the loss, never guessed, or told by the
PBX's queue log.

The simulated PBX runs in real time (cti's clock and the PBX's must agree on when the link was
lost) and keeps its calls going while the network to cti is cut, or dies with them (kill -9).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from cti.ami.feed import PbxFeed
from cti.ami.queue_log import read_file_since
from cti.core.events import (
    CallEnded,
    CallEvent,
    CallQueued,
    CallSnapshot,
    EndSource,
    GapReport,
    Outcome,
    UnloggedCalls,
)
from cti.sim import SimulatorConfig, SimulatorHandle, run_simulator
from cti.sim.scenarios import Inbound, Params, call
from tests.ami.feeding import Seen, running_feed
from tests.ami.test_rights import LIMITED
from tests.faultproxy import FaultProxy

CUT_AFTER = 2.5
GAP = 5.0


@asynccontextmanager
async def pbx_and_feed(
    tmp_path: Path,
    *,
    queue_log: bool,
    proxy: FaultProxy | None = None,
    user: dict[str, Any] | None = None,
    **sim: Any,
) -> AsyncIterator[tuple[SimulatorHandle, PbxFeed, Seen, Path]]:
    """The simulated PBX and a feed reading it (through `proxy`, started here, if given)."""
    log = tmp_path / "queue_log"
    handle = await run_simulator(
        SimulatorConfig(time_scale=1.0, seed=3, calls_per_minute=0, queue_log=str(log), **sim)
    )
    if proxy is not None:
        proxy.target = ("127.0.0.1", handle.port)
        await proxy.start()
    port = handle.port if proxy is None else proxy.port
    settings: dict[str, Any] = {
        "ping_interval": 1.0,
        "ping_timeout": 0.5,
        "reconnect_min": 0.1,
        "reconnect_max": 0.2,
        "action_timeout": 1.0,
        "queue_log_file": str(log) if queue_log else "",
    }
    try:
        async with running_feed(port, **settings | (user or {})) as (feed, seen):
            await feed.wait_ready(5)
            yield handle, feed, seen, log
    finally:
        if proxy is not None:
            await proxy.stop()
        await handle.stop()


async def place(sim: SimulatorHandle, exten: str, hold: float, **extra: Any) -> str:
    """A customer calls `exten`; the linkedid of the call."""
    spec = Inbound(exten, f'"Caller {exten}" <+1415555{exten}>', hold, **extra)
    return await call(sim.pbx, spec, Params())


def ended(seen: Seen) -> dict[str, CallSnapshot]:
    """The last known state of each ended call, by queue."""
    return {e.call.queue: e.call for e in seen if isinstance(e, CallEnded)}


def latest(seen: Seen) -> CallSnapshot | None:
    """The newest state of the one call of a test."""
    calls = [e.call for e in seen if isinstance(e, CallEvent)]
    return calls[-1] if calls else None


def gap_of(seen: Seen) -> GapReport:
    (gap,) = [e for e in seen if isinstance(e, GapReport)]
    return gap


async def test_calls_ended_unseen_end_when_the_link_was_lost_and_are_not_guessed(
    tmp_path: Path,
) -> None:
    async with pbx_and_feed(tmp_path, queue_log=False) as (sim, feed, seen, _):
        await place(sim, "100", 20)  # support: answered, talks 3-4 s, the agent hangs up
        await place(sim, "310", 3)  # rna: nobody answers, the caller gives up after 3 s
        await place(sim, "320", 20, qtimeout=3)  # dump: the queue gives up after 3 s
        await asyncio.sleep(CUT_AFTER)
        cut_at = datetime.now(UTC)
        outage = asyncio.create_task(sim.cut_link(GAP))
        await asyncio.sleep(0.1)
        await place(sim, "200", 20)  # sales: enters, is answered and ends in the gap
        await outage
        await seen.until(lambda: len(ended(seen)) == 3 and len(feed.state.calls) == 0)
        calls = ended(seen)
        gap = gap_of(seen)

    assert gap.lost_at is not None
    assert abs((gap.lost_at - cut_at).total_seconds()) < 0.3
    answered, gave_up, timed_out = calls["support"], calls["rna"], calls["dump"]
    # Seen answered: that stays true. How long it talked is unknown: it ended, at the latest,
    # when the link went.
    assert answered.outcome is Outcome.ANSWERED
    assert (answered.ended_at, answered.end_source, answered.end_reason) == (
        gap.lost_at,
        EndSource.OUTAGE,
        "",
    )
    for waiting in (gave_up, timed_out):
        assert waiting.outcome is Outcome.LINK_DOWN, "nothing tells an abandon from a timeout"
        assert (waiting.ended_at, waiting.end_source) == (gap.lost_at, EndSource.OUTAGE)
        # Their wait stops when the link went, not after the whole outage.
        assert waiting.enqueued_at is not None
        waited = (cut_at - waiting.enqueued_at).total_seconds()
        assert waiting.wait_seconds == pytest.approx(waited, abs=0.3)
    assert sorted(gap.ended) == sorted(c.call_id for c in calls.values())
    assert gap.reconciled == 0
    # The PBX's own counters show what the outage hid, the sales call included.
    assert sorted(gap.unlogged, key=lambda u: u.queue) == [
        UnloggedCalls("dump", 0, 1),
        UnloggedCalls("rna", 0, 1),
        UnloggedCalls("sales", 1, 0),
        UnloggedCalls("support", 1, 0),
    ]


async def test_the_queue_log_tells_how_the_calls_of_the_gap_ended(tmp_path: Path) -> None:
    async with pbx_and_feed(tmp_path, queue_log=True) as (sim, feed, seen, log):
        await place(sim, "100", 20)
        await place(sim, "310", 3)
        await place(sim, "320", 20, qtimeout=3)
        await asyncio.sleep(CUT_AFTER)
        outage = asyncio.create_task(sim.cut_link(GAP))
        await asyncio.sleep(0.2)
        await place(sim, "200", 20)  # comes and goes in the gap: only the log knows of it
        await place(sim, "330", 20, talk=5)  # answered in the gap, still talking after it
        await outage
        await seen.until(lambda: len(ended(seen)) == 5 and len(feed.state.calls) == 0)
        calls = ended(seen)
        gap = gap_of(seen)
        truth = read_file_since(log, datetime.fromtimestamp(0, UTC))

    def line(event: str, queue: str) -> Any:
        (found,) = [r for r in truth if r.event == event and r.queue == queue]
        return found

    support = calls["support"]
    done = next(r for r in truth if r.queue == "support" and r.event.startswith("COMPLETE"))
    assert (support.outcome, support.end_source) == (Outcome.ANSWERED, EndSource.QUEUE_LOG)
    assert (support.ended_at, support.end_reason) == (done.at, "agent")
    assert support.pbx_talk_seconds == int(done.data[1])
    assert support.talk_seconds == pytest.approx(int(done.data[1]), abs=1.0)

    abandon = line("ABANDON", "rna")
    assert (calls["rna"].outcome, calls["rna"].ended_at) == (Outcome.ABANDONED, abandon.at)
    assert calls["rna"].pbx_hold_seconds == int(abandon.data[2])
    timeout = line("EXITWITHTIMEOUT", "dump")
    assert (calls["dump"].outcome, calls["dump"].ended_at) == (Outcome.QUEUE_TIMEOUT, timeout.at)

    sales = calls["sales"]
    connect, entered = line("CONNECT", "sales"), line("ENTERQUEUE", "sales")
    assert (sales.call_id, sales.number) == (entered.call_id, "+1415555200")
    assert (sales.outcome, sales.end_source) == (Outcome.ANSWERED, EndSource.QUEUE_LOG)
    assert (sales.enqueued_at, sales.answered_at) == (entered.at, connect.at)
    assert (sales.agent_name, sales.agent_interface) == ("Dave", "Local/agent4@agents/n")

    # Answered while the link was down and still up after it: its agent from the log, and
    # AgentComplete then times it.
    recorded = calls["recorded"]
    assert (recorded.outcome, recorded.end_source) == (Outcome.ANSWERED, EndSource.LIVE)
    assert recorded.agent_name == "Grace"
    assert recorded.answered_at == line("CONNECT", "recorded").at
    assert recorded.pbx_talk_seconds == int(line("COMPLETEAGENT", "recorded").data[1])
    assert gap.reconciled == 4
    assert gap.unlogged == ()


async def test_a_call_answered_in_the_gap_is_taken_from_the_bridge_without_a_log(
    tmp_path: Path,
) -> None:
    async with pbx_and_feed(tmp_path, queue_log=False) as (sim, feed, seen, _):
        await place(sim, "330", 20, talk=6)
        await seen.until(lambda: any(isinstance(e, CallQueued) for e in seen))
        await sim.cut_link(GAP)  # Grace answers meanwhile
        await seen.until(lambda: feed.resyncs == 2)
        (live,) = feed.state.calls.live()
        grace = [a for a in feed.state.floor.agents(live.started_at) if a.name == "Grace"]
        queue = [q for q in feed.state.floor.queues() if q.name == "recorded"]
        await seen.until(lambda: "recorded" in ended(seen))
        done = ended(seen)["recorded"]

    assert (live.agent_name, live.answered_at is not None) == ("Grace", True)
    assert grace[0].call_id == live.call_id, "the floor shows her in the call"
    assert queue[0].waiting == (), "and the caller no longer waiting"
    # AgentComplete times the answer: talk is what the PBX counted, not the whole call.
    assert done.pbx_talk_seconds in (6, 7), "whole seconds, as app_queue counts them"
    assert done.talk_seconds == pytest.approx(done.pbx_talk_seconds, abs=1.0)
    assert done.wait_seconds is not None
    assert done.wait_seconds < 2.5


@pytest.mark.parametrize("queue_log", [False, True])
async def test_calls_cut_by_a_crash_end_when_the_pbx_died(tmp_path: Path, queue_log: bool) -> None:
    # A PBX up for an hour: a restart shows in its uptime.
    async with pbx_and_feed(tmp_path, queue_log=queue_log, uptime=3600) as (sim, feed, seen, _):
        await place(sim, "100", 20)
        await place(sim, "310", 20)
        await asyncio.sleep(CUT_AFTER)
        died_at = datetime.now(UTC)
        await sim.restart(downtime=2.0)  # kill -9, back two seconds later
        await seen.until(lambda: len(ended(seen)) == 2 and len(feed.state.calls) == 0)
        calls = ended(seen)
        gap = gap_of(seen)

    assert gap.restarted
    assert gap.lost_at is not None
    assert abs((gap.lost_at - died_at).total_seconds()) < 0.3
    answered, waiting = calls["support"], calls["rna"]
    assert (answered.outcome, answered.end_reason) == (Outcome.ANSWERED, "pbx-restart")
    assert waiting.outcome is Outcome.PBX_RESTART
    for cut in (answered, waiting):
        assert (cut.ended_at, cut.end_source) == (gap.lost_at, EndSource.OUTAGE)
    assert waiting.enqueued_at is not None
    waited = (died_at - waiting.enqueued_at).total_seconds()
    assert waiting.wait_seconds == pytest.approx(waited, abs=0.3)
    assert gap.unlogged == (), "a restart resets the PBX's counters: no cross-check"


async def test_an_agent_complete_after_the_last_hangup_still_times_the_call(
    tmp_path: Path,
) -> None:
    async with pbx_and_feed(tmp_path, queue_log=False, complete_after_hangup=1.0) as (
        sim,
        feed,
        seen,
        _,
    ):
        await place(sim, "100", 20)
        await seen.until(lambda: getattr(latest(seen), "pbx_talk_seconds", None) is not None)
        final = latest(seen)

    assert final is not None
    assert final.ended_at is not None, "the AgentComplete came after the call had ended"
    assert final.end_reason == "agent"
    assert final.pbx_talk_seconds in (3, 4)
    assert final.outcome is Outcome.ANSWERED
    assert sum(isinstance(e, CallEnded) for e in seen) == 1


async def test_a_pbx_that_goes_silent_is_gone_from_when_it_last_spoke(tmp_path: Path) -> None:
    """A frozen PBX, or a route that drops everything: the link stays up but nothing comes.
    The calls that end meanwhile end when the PBX was last heard of, not when cti gave up."""
    proxy = FaultProxy(0)
    async with pbx_and_feed(tmp_path, queue_log=False, proxy=proxy) as (sim, feed, seen, _):
        await place(sim, "310", 3)  # nobody answers; the caller gives up after 3 s
        await seen.until(lambda: any(isinstance(e, CallQueued) for e in seen))
        await asyncio.sleep(1.0)
        silent_from = datetime.now(UTC)
        await proxy.stall(GAP)
        await seen.until(lambda: len(ended(seen)) == 1 and feed.resyncs == 2)
        gap = gap_of(seen)

    assert gap.lost_at is not None
    # The last frame (an event or a Pong) came at most a ping interval before the stall.
    assert silent_from - timedelta(seconds=1.1) <= gap.lost_at <= silent_from
    assert ended(seen)["rna"].ended_at == gap.lost_at


async def test_without_the_channel_list_the_queue_log_still_closes_the_calls_it_saw_end(
    tmp_path: Path,
) -> None:
    """A manager user that may not send CoreShowChannels: which calls are still up after an
    outage is unknown, so only those the queue log says ended are closed."""
    async with pbx_and_feed(tmp_path, queue_log=True, user=LIMITED) as (sim, feed, seen, log):
        await place(sim, "310", 2)  # gives up in the gap
        await place(sim, "330", 20, talk=8)  # answered, still talking after the gap
        await seen.until(lambda: sum(isinstance(e, CallQueued) for e in seen) == 2)
        await sim.cut_link(GAP)
        await seen.until(lambda: "rna" in ended(seen))
        still_up = {c.queue for c in feed.state.calls.live()}
        await seen.until(lambda: "recorded" in ended(seen))
        calls = ended(seen)
        abandon = next(
            r for r in read_file_since(log, datetime.fromtimestamp(0, UTC)) if r.event == "ABANDON"
        )

    assert (calls["rna"].outcome, calls["rna"].end_source) == (
        Outcome.ABANDONED,
        EndSource.QUEUE_LOG,
    )
    assert calls["rna"].ended_at == abandon.at
    assert still_up == {"recorded"}, "not closed for want of knowing it was still up"
    assert (calls["recorded"].outcome, calls["recorded"].end_source) == (
        Outcome.ANSWERED,
        EndSource.LIVE,
    )
