from __future__ import annotations

import pytest

from cti.sms.ratelimit import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_per_second_lets_one_go_then_refills() -> None:
    clock = Clock()
    bucket = TokenBucket(1.0, clock)
    assert bucket.available() == 1
    bucket.take()
    assert bucket.available() == 0
    assert bucket.wait_time() == pytest.approx(1.0)
    clock.now += 0.5
    assert bucket.available() == 0
    assert bucket.wait_time() == pytest.approx(0.5)
    clock.now += 0.5
    assert bucket.available() == 1


def test_the_burst_is_one_seconds_worth() -> None:
    clock = Clock()
    bucket = TokenBucket(10.0, clock)
    clock.now += 60
    assert bucket.available() == 10


def test_zero_is_no_limit() -> None:
    bucket = TokenBucket(0, Clock())
    bucket.take(10_000)
    assert bucket.available() > 10_000
    assert bucket.wait_time() == 0
