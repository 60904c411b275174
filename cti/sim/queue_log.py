"""The simulated PBX's queue_log, written as app_queue writes Asterisk's: one line per step.

`time|callid|queuename|agent|event|data...` with the time in whole epoch seconds, the caller's
Uniqueid as callid, the member's name as agent ("NONE" for the caller's own steps). A line is
flushed as it is written, so a reader sees each step at once, as with Asterisk's own file.
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from cti.sim.clock import SimClock


class QueueLog:
    def __init__(self, path: str, clock: SimClock) -> None:
        self._clock = clock
        self._file: IO[str] | None = None
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._file = Path(path).open("a", encoding="utf-8")

    def write(self, queue: str, call_id: str, agent: str, event: str, *data: str | int) -> None:
        if self._file is None:
            return
        fields = [str(int(self._clock.now())), call_id, queue, agent, event, *map(str, data)]
        self._file.write("|".join(fields) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
