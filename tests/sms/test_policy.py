from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from cti.sms.policy import Block, Defer, Send, SendPolicy, decide

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
POLICY = SendPolicy.parse("21:00-08:00", daily_cap=3, opt_out_transactional=False)


def verdict(now: datetime, zone: ZoneInfo = SHANGHAI, **facts: object) -> object:
    settings: dict[str, object] = {"transactional": False, "opted_out": False, "sent_today": 0}
    settings.update(facts)
    return decide(POLICY, now=now, zone=zone, **settings)  # type: ignore[arg-type]


def test_daytime_in_the_recipients_zone_sends() -> None:
    # 02:00 UTC is 10:00 in Shanghai.
    assert verdict(datetime(2026, 11, 30, 2, 0, tzinfo=UTC)) == Send()


def test_night_in_the_recipients_zone_waits_until_quiet_hours_end_there() -> None:
    # 14:30 UTC is 22:30 in Shanghai: wait for 08:00 Shanghai, 00:00 UTC next day.
    found = verdict(datetime(2026, 11, 30, 14, 30, tzinfo=UTC))
    assert isinstance(found, Defer)
    assert found.until == datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI)
    assert found.until.astimezone(UTC) == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


def test_early_morning_waits_until_the_same_days_end_of_quiet_hours() -> None:
    # 11:00 UTC is 06:00 in New York (EST).
    found = verdict(datetime(2026, 11, 30, 11, 0, tzinfo=UTC), NEW_YORK)
    assert isinstance(found, Defer)
    assert found.until == datetime(2026, 11, 30, 8, 0, tzinfo=NEW_YORK)


def test_the_same_instant_is_quiet_for_one_customer_and_not_for_another() -> None:
    now = datetime(2026, 11, 30, 14, 30, tzinfo=UTC)  # 22:30 Shanghai, 09:30 New York
    assert isinstance(verdict(now, SHANGHAI), Defer)
    assert verdict(now, NEW_YORK) == Send()


def test_quiet_hours_within_one_day() -> None:
    policy = SendPolicy.parse("12:00-14:00", daily_cap=0, opt_out_transactional=False)
    lunch = datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    found = decide(
        policy, now=lunch, zone=ZoneInfo("UTC"), transactional=True, opted_out=False, sent_today=0
    )
    assert found == Defer(datetime(2026, 11, 30, 14, 0, tzinfo=ZoneInfo("UTC")), "quiet hours")


def test_no_quiet_hours_configured_always_sends() -> None:
    policy = SendPolicy.parse("", daily_cap=0, opt_out_transactional=False)
    night = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
    assert (
        decide(
            policy, now=night, zone=SHANGHAI, transactional=False, opted_out=False, sent_today=99
        )
        == Send()
    )


@pytest.mark.parametrize(
    ("transactional", "covers", "blocked"),
    [(False, False, True), (True, False, False), (True, True, True), (False, True, True)],
)
def test_opt_out_blocks_marketing_and_transactional_only_when_configured(
    transactional: bool, covers: bool, blocked: bool
) -> None:
    policy = SendPolicy.parse("", daily_cap=0, opt_out_transactional=covers)
    found = decide(
        policy,
        now=datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
        zone=SHANGHAI,
        transactional=transactional,
        opted_out=True,
        sent_today=0,
    )
    assert isinstance(found, Block) is blocked
    if blocked:
        assert isinstance(found, Block)
        assert found.code == "opted-out"


def test_daily_cap_holds_non_transactional_messages_until_tomorrow_morning() -> None:
    noon = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 12:00 Shanghai
    found = verdict(noon, sent_today=3)
    assert isinstance(found, Defer)
    assert found.reason == "daily cap reached"
    # Local midnight is within quiet hours, so the message waits for their end.
    assert found.until == datetime(2026, 12, 1, 8, 0, tzinfo=SHANGHAI)
    assert verdict(noon, sent_today=2) == Send()
    assert verdict(noon, sent_today=3, transactional=True) == Send()
