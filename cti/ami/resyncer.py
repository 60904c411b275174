"""The resync after a login, retried until the PBX's state is read, and its state in health.

A resync that fails (no answer in time, an error) is never skipped: the model would go on from a
stale or empty state, popping nobody for want of the queue members. It is tried again with the
link's back-off for as long as the login lasts, and health says "cannot resync" (failed: /healthz
answers 503) meanwhile. A user who may not send CoreShowChannels gets the queues-only resync
(cti.ami.resync.read_state without channels): the members are known and pops work, the calls in
progress are not read, and health says so (degraded).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import UTC, datetime
from typing import Any

from cti.ami.errors import AmiActionFailed, AmiActionTimeout, AmiClosed, AmiConnectionLost
from cti.ami.link import AmiLink, Backoff
from cti.ami.resync import Records, read_state
from cti.ami.rights import PERMISSION_DENIED, WRITES, RightsCheck
from cti.config import PbxConfig
from cti.core import observations as obs
from cti.health import HealthRegistry

logger = logging.getLogger(__name__)

Snapshot = obs.Resynced | obs.QueuesResynced
_CHANNELS = "CoreShowChannels"


class Resyncer:
    def __init__(
        self, config: PbxConfig, link: AmiLink, rights: RightsCheck, health: HealthRegistry
    ) -> None:
        self._config = config
        self._link = link
        self._rights = rights
        self._health = health
        self._component = f"pbx:{config.name}:resync"

    async def run(
        self, *, restarted: bool, lost_at: datetime | None, records: Records
    ) -> Snapshot | None:
        """The PBX's state once read; None if the link dropped or logged in again before that
        (the next login resyncs). `lost_at` and `records` as for read_state."""
        login = self._link.connects
        backoff = Backoff(self._config.reconnect_min, self._config.reconnect_max)
        while True:
            try:
                return await self._read(restarted, lost_at, records)
            except (AmiConnectionLost, AmiClosed):
                return None
            except (AmiActionTimeout, AmiActionFailed) as exc:
                delay = backoff.next()
                self._health.report(self._component, "failed", f"cannot resync: {exc}; retrying")
                self._rights.report()
                logger.debug(
                    "pbx %s: resync failed (%s); next attempt in %.2f s",
                    self._config.name,
                    exc,
                    delay,
                )
            await asyncio.sleep(delay)
            if self._link.connects != login:
                return None

    async def _read(self, restarted: bool, lost_at: datetime | None, records: Records) -> Snapshot:
        read = functools.partial(
            read_state,
            self._send_list,
            self._config.name,
            datetime.now(UTC),
            restarted=restarted,
            lost_at=lost_at,
            records=records,
        )
        if self._rights.allows(_CHANNELS):
            try:
                snapshot = await read()
            except AmiActionFailed as exc:
                if (exc.action, exc.message) != (_CHANNELS, PERMISSION_DENIED):
                    raise
                self._rights.refused(_CHANNELS)
            else:
                self._health.report(self._component, "ok", "queues, members and calls read")
                return snapshot
        queues = await read(channels=False)
        self._health.report(
            self._component,
            "degraded",
            f"queues and members only: {_CHANNELS} is not allowed",
            [WRITES[_CHANNELS].loses],
        )
        return queues

    async def _send_list(self, action: dict[str, str]) -> Any:
        return await self._link.send(action, as_list=True)
