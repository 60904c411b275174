"""After every login: read the PBX's queues, members, waiting callers and channels in one go.

QueueStatus and CoreShowChannels are list actions (ground truth §1.6); their items are turned
into one `Resynced` observation, so the model can end the calls that vanished while we were away
and adopt the ones it did not know, without duplicates. A user who may not send CoreShowChannels
gets the queues alone.
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


Queues = tuple[tuple[obs.QueueInfo, ...], tuple[obs.MemberInfo, ...], tuple[obs.WaitingCaller, ...]]
Records = tuple[obs.QueueRecord, ...] | None


async def _read_queues(send_list: SendList) -> Queues:
    queues, members, waiting = [], [], []
    for item in _messages(await send_list({"Action": "QueueStatus"})):
        match first(item, "Event"):
            case "QueueParams":
                queues.append(queue_info(item))
            case "QueueMember":
                members.append(member_info(item))
            case "QueueEntry":
                if (entry := waiting_caller(item)) is not None:
                    waiting.append(entry)
    return tuple(queues), tuple(members), tuple(waiting)


async def read_state(
    send_list: SendList,
    pbx: str,
    at: datetime,
    *,
    restarted: bool,
    lost_at: datetime | None = None,
    records: Records = None,
    channels: bool = True,
) -> obs.Resynced | obs.QueuesResynced:
    """The queues, then the channels. Without `channels` (the user may not send
    CoreShowChannels), which calls are still up cannot be told and QueuesResynced leaves them
    alone; after a restart none is, and every call is ended as with the channels read."""
    queues, members, waiting = await _read_queues(send_list)
    if not channels and not restarted:
        return obs.QueuesResynced(
            pbx, at, queues=queues, members=members, lost_at=lost_at, records=records
        )
    items = _messages(await send_list({"Action": "CoreShowChannels"})) if channels else []
    live = [
        channel
        for item in items
        if first(item, "Event") == "CoreShowChannel" and (channel := live_channel(item)) is not None
    ]
    return obs.Resynced(
        pbx,
        at,
        queues=queues,
        members=members,
        waiting=waiting,
        channels=tuple(live),
        restarted=restarted,
        lost_at=lost_at,
        records=records,
    )
