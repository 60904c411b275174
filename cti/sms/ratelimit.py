"""A token bucket per sender: carriers throttle or filter a long code that sends too fast."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, per_second: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._rate = per_second
        # A burst of one second's worth, at least one message.
        self._capacity = max(1.0, per_second)
        self._tokens = self._capacity
        self._clock = clock
        self._stamp = clock()

    @property
    def unlimited(self) -> bool:
        return self._rate <= 0

    def available(self) -> int:
        if self.unlimited:
            return 1 << 30
        self._refill()
        return int(self._tokens)

    def take(self, count: int = 1) -> None:
        if not self.unlimited:
            self._refill()
            self._tokens -= count

    def wait_time(self) -> float:
        """Seconds until one token is there."""
        if self.unlimited:
            return 0.0
        self._refill()
        return max(0.0, (1 - self._tokens) / self._rate)

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._capacity, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now
