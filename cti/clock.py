"""The wall clock as a value: what reads "now" for a calendar is handed one, so tests can fix it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """The real wall clock, as an aware UTC instant: every clock's default outside tests."""
    return datetime.now(UTC)
