"""KPI arithmetic on hand-built days: service level formulas, short abandons, business hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cti.core.hours import parse_weekly_hours
from cti.core.kpi import KpiCall, KpiSettings, Targets, grade, queue_kpis

MONDAY_10 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # 10:00 in Paris
PARIS = ZoneInfo("Europe/Paris")
ALWAYS = parse_weekly_hours({})


def call(outcome: str, wait: float, talk: float = 0.0, minutes: int = 0) -> KpiCall:
    return KpiCall("support", MONDAY_10 + timedelta(minutes=minutes), outcome, wait, talk)


DAY = [
    call("answered", 5, 100),
    call("answered", 15, 200),
    call("answered", 40, 300),
    call("abandoned", 2),  # short: under 5 s
    call("abandoned", 30),
    call("queue-timeout", 60),
    call("no-agent", 0),
]


def settings(formula: str = "answered-and-long-abandons") -> KpiSettings:
    return KpiSettings(20, 5, formula, {"support": 30})  # type: ignore[arg-type]


def test_counts_asa_aht_and_abandon_rate() -> None:
    kpis = queue_kpis("support", DAY, settings(), ALWAYS, PARIS)
    assert (kpis.offered, kpis.answered, kpis.abandoned, kpis.short_abandoned) == (7, 3, 1, 1)
    assert (kpis.timed_out, kpis.no_agent, kpis.answered_in_time) == (1, 1, 2)
    assert kpis.asa_seconds == pytest.approx(20.0)  # (5 + 15 + 40) / 3
    assert kpis.aht_seconds == pytest.approx(230.0)  # talk 200 on average + 30 s wrap-up
    assert kpis.abandon_rate == pytest.approx(1 / 6)  # the short abandon is not offered
    assert kpis.longest_wait_seconds == 60


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("answered-and-long-abandons", 2 / 4),  # 2 in time / (3 answered + 1 long abandon)
        ("answered-only", 2 / 3),  # Asterisk's own ServicelevelPerf
        ("all-offered", 2 / 6),  # 7 offered less the short abandon
    ],
)
def test_service_level_formulas(formula: str, expected: float) -> None:
    assert queue_kpis(
        "support", DAY, settings(formula), ALWAYS, PARIS
    ).service_level == pytest.approx(expected)


def test_calls_outside_business_hours_are_counted_apart() -> None:
    hours = parse_weekly_hours({"mon": "09:00-18:00"})
    night = [call("abandoned", 50, minutes=-120), call("answered", 90, 60, minutes=-121)]  # 08:00
    kpis = queue_kpis("support", [*DAY, *night], settings(), hours, PARIS)
    assert kpis.out_of_hours == 2
    assert kpis.offered == 7
    assert kpis.service_level == pytest.approx(2 / 4)


def test_an_empty_day_has_no_rates_rather_than_zero() -> None:
    kpis = queue_kpis("support", [], settings(), ALWAYS, PARIS)
    assert (kpis.offered, kpis.service_level, kpis.asa_seconds, kpis.abandon_rate) == (
        0,
        None,
        None,
        None,
    )


def test_wallboard_colours_follow_the_targets() -> None:
    targets = Targets(service_level=0.8, abandon_rate=0.05, longest_wait_seconds=60)
    good = queue_kpis("support", [call("answered", 5, 100)], settings(), ALWAYS, PARIS)
    assert grade(good, targets) == {
        "service_level": "ok",
        "abandon_rate": "ok",
        "longest_wait": "ok",
    }
    bad = queue_kpis("support", DAY, settings(), ALWAYS, PARIS)  # SL 0.5, abandons 1/6, wait 60
    assert grade(bad, targets) == {
        "service_level": "alarm",
        "abandon_rate": "alarm",
        "longest_wait": "ok",
    }
    late, on_time = [call("answered", 25, 10)] * 3, [call("answered", 5, 10)] * 7
    slow = queue_kpis("support", [*late, *on_time], settings(), ALWAYS, PARIS)
    assert slow.service_level == pytest.approx(0.7)
    assert grade(slow, targets)["service_level"] == "warn"


def test_calls_cut_off_or_unseen_are_counted_apart_and_in_no_rate() -> None:
    """A PBX restart with callers waiting, calls whose end an outage hid: offered, each in its
    own column, in no rate; an answered call whose end was not seen is answered, with no AHT."""
    unseen_talk = KpiCall("support", MONDAY_10, "answered", 10, 2.0, talk_known=False)
    day = [*DAY, call("pbx-restart", 8), call("link-down", 12), unseen_talk]
    kpis = queue_kpis("support", day, settings("all-offered"), ALWAYS, PARIS)
    assert (kpis.offered, kpis.cut_off, kpis.unknown, kpis.answered) == (10, 1, 1, 4)
    columns = (
        kpis.answered,
        kpis.abandoned,
        kpis.short_abandoned,
        kpis.timed_out,
        kpis.no_agent,
        kpis.cut_off,
        kpis.unknown,
    )
    assert sum(columns) == kpis.offered, "every offered call in exactly one column"
    assert kpis.abandon_rate == pytest.approx(1 / 7)  # 10 offered less short, cut and unknown
    assert kpis.service_level == pytest.approx(3 / 7)
    assert kpis.aht_seconds == pytest.approx(230.0), "the untimed talk is left out"
    assert kpis.asa_seconds == pytest.approx(70 / 4)
