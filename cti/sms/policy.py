"""Whether a message may go now: opt-outs, quiet hours in the recipient's zone, a daily cap.

Pure: the worker gathers the facts (opted out? how many sent today?) and applies the verdict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class SendPolicy:
    quiet_start: time | None
    quiet_end: time | None
    daily_cap: int
    opt_out_covers_transactional: bool

    @classmethod
    def parse(cls, quiet_hours: str, daily_cap: int, opt_out_transactional: bool) -> SendPolicy:
        start = end = None
        if quiet_hours:
            first, _, last = quiet_hours.partition("-")
            start, end = time.fromisoformat(first), time.fromisoformat(last)
        return cls(start, end, daily_cap, opt_out_transactional)


@dataclass(frozen=True, slots=True)
class Send:
    pass


@dataclass(frozen=True, slots=True)
class Defer:
    until: datetime
    reason: str


@dataclass(frozen=True, slots=True)
class Block:
    code: str
    reason: str


Verdict = Send | Defer | Block


def decide(
    policy: SendPolicy,
    *,
    now: datetime,
    zone: ZoneInfo,
    transactional: bool,
    opted_out: bool,
    sent_today: int,
) -> Verdict:
    """Opted-out numbers get nothing (transactional messages only if configured so); nobody is
    woken at night; past the daily cap, all but transactional messages wait for the next day."""
    if opted_out and (policy.opt_out_covers_transactional or not transactional):
        return Block("opted-out", "the recipient opted out of SMS")
    local = now.astimezone(zone)
    quiet_until = _end_of_quiet(policy, local, zone)
    if quiet_until is not None:
        return Defer(quiet_until, "quiet hours")
    if policy.daily_cap and not transactional and sent_today >= policy.daily_cap:
        tomorrow = datetime.combine(local.date() + timedelta(days=1), time(), zone)
        start = _end_of_quiet(policy, tomorrow, zone) or tomorrow
        return Defer(start, "daily cap reached")
    return Send()


def _end_of_quiet(policy: SendPolicy, local: datetime, zone: ZoneInfo) -> datetime | None:
    """When the quiet period `local` falls in ends, or None when it is not quiet."""
    start, end = policy.quiet_start, policy.quiet_end
    if start is None or end is None or start == end:
        return None
    clock = local.timetz().replace(tzinfo=None)
    if start < end:
        quiet = start <= clock < end
        ends_today = True
    else:
        quiet = clock >= start or clock < end
        ends_today = clock < end
    if not quiet:
        return None
    day = local.date() if ends_today else local.date() + timedelta(days=1)
    return datetime.combine(day, end, zone)
