"""Simulated time: scaled wall-clock time, or a virtual clock that never sleeps (scale 0).

Everything in the simulator is written in PBX seconds (a 3 s talk, a 1 s retry). With a positive
scale a timer of `s` seconds fires after `s * scale` real seconds and `now()` runs `1/scale` times
faster than the wall clock, so Uniqueids, Timestamps and HoldTimes stay consistent. With scale 0 a
driver task fires the earliest timer as soon as the loop has run everything that was ready, so a
benchmark gets the PBX's events as fast as it can read them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Iterable
from typing import Any

# With the virtual clock, time jumps to the next timer only once this many loop turns in a row
# passed with no activity (no event published, no timer set): every woken call has then reached
# its next wait, through however many hand-offs it took.
_QUIET_TURNS = 5


class SimClock:
    """The PBX's clock; `timer()` futures are how every simulated delay is awaited."""

    def __init__(self, scale: float, epoch: float | None = None) -> None:
        self.scale = scale
        self._loop = asyncio.get_running_loop()
        self._origin_real = self._loop.time()
        self._origin = time.time() if epoch is None else epoch
        self._virtual = round(self._origin, 6)
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._wake = asyncio.Event()
        self._driver: asyncio.Task[None] | None = None
        self._activity = 0

    def now(self) -> float:
        # Microseconds, as Timestamp headers show them: whole-second arithmetic (HoldTime,
        # wrap-up) then agrees with what a client computes from the timestamps.
        if self.scale == 0:
            return self._virtual
        return round(self._origin + (self._loop.time() - self._origin_real) / self.scale, 6)

    def touch(self) -> None:
        """Something happened in the PBX: the virtual clock must not jump yet."""
        self._activity += 1

    def real(self, seconds: float) -> float:
        """Wall-clock seconds for a PBX delay (0 with the virtual clock)."""
        return seconds * self.scale

    def timer(self, seconds: float) -> asyncio.Future[None]:
        """A future that completes after `seconds` of PBX time; cancel it to drop the timer."""
        fut: asyncio.Future[None] = self._loop.create_future()
        seconds = max(0.0, seconds)
        if self.scale > 0:
            handle = self._loop.call_later(seconds * self.scale, _fire, fut)
            fut.add_done_callback(lambda _: handle.cancel())
            return fut
        self._activity += 1
        heapq.heappush(self._heap, (self._virtual + seconds, next(self._order), fut))
        if self._driver is None:
            self._driver = self._loop.create_task(self._drive(), name="sim-virtual-clock")
        self._wake.set()
        return fut

    async def sleep(self, seconds: float) -> None:
        await self.timer(seconds)

    async def first(self, futures: Iterable[asyncio.Future[Any]], seconds: float | None) -> bool:
        """Wait until one of `futures` is done or `seconds` pass (None: no limit).

        True if a future finished. The futures are only watched, never cancelled.
        """
        pending = list(futures)
        if any(f.done() for f in pending):
            return True
        waiters: list[asyncio.Future[Any]] = list(pending)
        timer = self.timer(seconds) if seconds is not None else None
        if timer is not None:
            waiters.append(timer)
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if timer is not None:
                timer.cancel()
        return any(f.done() for f in pending)

    async def close(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            await asyncio.gather(self._driver, return_exceptions=True)
            self._driver = None
        for _, _, fut in self._heap:
            fut.cancel()
        self._heap.clear()

    async def _drive(self) -> None:
        while True:
            while not self._heap:
                self._wake.clear()
                await self._wake.wait()
            quiet = 0
            while quiet < _QUIET_TURNS:
                seen = self._activity
                await asyncio.sleep(0)
                quiet = quiet + 1 if seen == self._activity else 0
            if not self._heap:
                continue
            due, _, fut = heapq.heappop(self._heap)
            if fut.done():
                continue
            self._virtual = round(max(self._virtual, due), 6)
            fut.set_result(None)


def _fire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
