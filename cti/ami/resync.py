"""After every login: read the PBX's queues, members, waiting callers and channels in one go.

QueueStatus and CoreShowChannels are list actions (ground truth §1.6); their items are turned
into one `Resynced` observation, so the model can end the calls that vanished while we were away
and adopt the ones it did not know, without duplicates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from cti.ami.frames import AmiMessage, first
from cti.ami.translate import live_channel, member_info, queue_info, waiting_caller
from cti.core import observations as obs

SendList = Callable[[dict[str, str]], Awaitable[Any]]


def _messages(reply: Any) -> list[AmiMessage]:
    items: Iterable[Mapping[str, Any]] = reply if isinstance(reply, list) else [reply]
    return [{str(k): v for k, v in item.items()} for item in items]


async def read_state(
    send_list: SendList,
    pbx: str,
    at: datetime,
    *,
    restarted: bool,
    lost_at: datetime | None = None,
    records: tuple[obs.QueueRecord, ...] | None = None,
) -> obs.Resynced:
    queue_items = _messages(await send_list({"Action": "QueueStatus"}))
    channel_items = _messages(await send_list({"Action": "CoreShowChannels"}))
    queues, members, waiting = [], [], []
    for item in queue_items:
        match first(item, "Event"):
            case "QueueParams":
                queues.append(queue_info(item))
            case "QueueMember":
                members.append(member_info(item))
            case "QueueEntry":
                if (entry := waiting_caller(item)) is not None:
                    waiting.append(entry)
    channels = [
        live
        for item in channel_items
        if first(item, "Event") == "CoreShowChannel" and (live := live_channel(item)) is not None
    ]
    return obs.Resynced(
        pbx,
        at,
        queues=tuple(queues),
        members=tuple(members),
        waiting=tuple(waiting),
        channels=tuple(channels),
        restarted=restarted,
        lost_at=lost_at,
        records=records,
    )
