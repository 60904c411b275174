"""A text progress bar for long command-line jobs (the customer import)."""

from __future__ import annotations

import time
from typing import TextIO


class ProgressBar:
    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self._stream = stream
        self._width = width
        self._last = 0.0
        self._started = time.monotonic()

    def update(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        share = done / total if total else 1.0
        filled = int(share * self._width)
        rate = done / max(now - self._started, 1e-6)
        bar = "#" * filled + "-" * (self._width - filled)
        self._stream.write(f"\r[{bar}] {share:6.1%} {done}/{total} ({rate:,.0f}/s)")
        self._stream.flush()

    def finish(self) -> None:
        self._stream.write("\n")
        self._stream.flush()
