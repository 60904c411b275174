"""What the PBX's own queue log tells of each call: how it entered, who answered, how it ended.

Asterisk writes a line to its queue_log for every step of a queue call, whether or not anyone
listens on AMI; after an outage these lines are the truth of the calls the link missed. Field
orders are app_queue's (Asterisk 12 and later).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cti.core.events import Outcome
from cti.core.observations import QueueRecord

# Event -> (outcome, who ended it, index of the hold seconds, of the talk seconds).
_ANSWERED_ENDS = {
    "COMPLETECALLER": ("caller", 0, 1),
    "COMPLETEAGENT": ("agent", 0, 1),
    # TRANSFER, BLINDTRANSFER: extension|context|hold|talk|position. ATTENDEDTRANSFER: its
    # first fields vary with the method, the last three are always hold|talk|position.
    "TRANSFER": ("transfer", -3, -2),
    "BLINDTRANSFER": ("transfer", -3, -2),
    "ATTENDEDTRANSFER": ("transfer", -3, -2),
}
# Event -> (outcome, index of the wait seconds, of the original position).
_UNANSWERED_ENDS = {
    "ABANDON": (Outcome.ABANDONED, 2, 1),
    "EXITWITHKEY": (Outcome.ABANDONED, 3, 2),
    "EXITWITHTIMEOUT": (Outcome.QUEUE_TIMEOUT, 2, 1),
    "EXITEMPTY": (Outcome.NO_AGENT, 2, 1),
}


@dataclass(slots=True)
class QueueStory:
    """One queue caller's lines, read in order."""

    call_id: str
    queue: str
    entered_at: datetime | None = None
    number: str = ""
    connected_at: datetime | None = None
    agent: str = ""
    hold_seconds: int | None = None
    ended_at: datetime | None = None
    outcome: Outcome | None = None
    talk_seconds: int | None = None
    end_reason: str = ""
    position: int | None = None

    def read(self, record: QueueRecord) -> None:
        data = record.data
        match record.event:
            case "ENTERQUEUE":
                self.queue = record.queue
                self.entered_at = record.at
                self.number = _field(data, 1)
            case "CONNECT":
                self.queue = record.queue
                self.connected_at = record.at
                self.agent = record.agent
                self.hold_seconds = _seconds(data, 0)
            case event if event in _ANSWERED_ENDS:
                reason, hold, talk = _ANSWERED_ENDS[event]
                self.outcome = Outcome.ANSWERED
                self.ended_at = record.at
                self.end_reason = reason
                self.agent = self.agent or record.agent
                self.hold_seconds = _seconds(data, hold)
                self.talk_seconds = _seconds(data, talk)
            case event if event in _UNANSWERED_ENDS and self.connected_at is None:
                outcome, wait, position = _UNANSWERED_ENDS[event]
                self.outcome = outcome
                self.ended_at = record.at
                self.hold_seconds = _seconds(data, wait)
                self.position = _seconds(data, position)


def read_stories(records: Iterable[QueueRecord]) -> dict[str, QueueStory]:
    """Each queue caller's story from the log's lines (queue-wide lines are skipped)."""
    stories: dict[str, QueueStory] = {}
    for record in records:
        if record.call_id in ("", "NONE", "MANAGER", "REALTIME"):
            continue
        story = stories.get(record.call_id)
        # Back into a queue after an end (a transfer to a queue): the story starts again there.
        if story is None or (record.event == "ENTERQUEUE" and story.ended_at is not None):
            story = stories[record.call_id] = QueueStory(record.call_id, record.queue)
        story.read(record)
    return stories


def _field(data: tuple[str, ...], index: int) -> str:
    try:
        return data[index]
    except IndexError:
        return ""


def _seconds(data: tuple[str, ...], index: int) -> int | None:
    try:
        return max(int(data[index]), 0)
    except (IndexError, ValueError):
        return None
