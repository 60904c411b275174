"""The outbox worker: sends due messages through their gateway, each exactly once.

A message is claimed under a lease before its gateway sees it, and its outcome is written as soon
as the gateway answers. If the process dies in between, the lease runs out and the message's fate
is unknown: a gateway that deduplicates by key gets it again; for the others it is marked failed
with the reason, for a person to check and retry, since sending it again might send it twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
import secrets
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import aiohttp
from sqlalchemy.ext.asyncio import async_sessionmaker

from cti.clock import Clock, utcnow
from cti.config import SmsConfig
from cti.metrics import Metrics
from cti.sms import outbox
from cti.sms import status as st
from cti.sms.gateway import Accepted, Gateway, GatewayError, OutgoingSms
from cti.sms.outbox import Claimed
from cti.sms.policy import Block, Defer, SendPolicy, decide
from cti.sms.ratelimit import TokenBucket

logger = logging.getLogger(__name__)


class OutboxWorker:
    def __init__(
        self,
        db: async_sessionmaker[Any],
        gateways: Mapping[str, Gateway],
        settings: SmsConfig,
        policy: SendPolicy,
        zone: ZoneInfo,
        metrics: Metrics,
        *,
        clock: Clock = utcnow,
        poll_seconds: float = 1.0,
    ) -> None:
        self._db = db
        self._gateways = gateways
        self._settings = settings
        self._policy = policy
        self._zone = zone
        self._metrics = metrics
        self._clock = clock
        self._poll = poll_seconds
        self._owner = f"{secrets.token_hex(4)}-{int(time.time())}"
        self._buckets = {name: TokenBucket(g.rate_per_second) for name, g in gateways.items()}
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        # Gateways' answers wait here for the writer, which records them many at a time.
        self._answers: list[tuple[Claimed, Accepted | GatewayError, datetime]] = []
        self._answered = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        # One writer at a time: on SQLite, writers that wait inside the database sleep in steps
        # of up to 100 ms; waiting here costs nothing.
        self._writing = asyncio.Lock()
        metrics.describe("cti_sms_sent_total", "Outgoing SMS handed to a gateway, by result.")

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="sms-outbox")
        self._writer = asyncio.create_task(self._write_answers(), name="sms-outbox-writer")

    def wake(self) -> None:
        """New work may be due: look now rather than at the next poll."""
        self._wake.set()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming; let the messages in flight finish so none is left unknown."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._inflight:
            _, late = await asyncio.wait(self._inflight, timeout=grace)
            for task in late:
                task.cancel()
        self._answered.set()
        if self._writer is not None:
            await self._writer

    async def _run(self) -> None:
        recover_at = 0.0
        while not self._stopping:
            # Cleared before the round: a message stored during it wakes the next one at once.
            self._wake.clear()
            try:
                if time.monotonic() >= recover_at:
                    await self._recover()
                    recover_at = time.monotonic() + self._settings.lease_seconds / 2
                busy = await self._claim_round()
            except Exception:
                logger.exception("SMS outbox: a round failed; trying again shortly")
                busy = False
            if busy:
                continue
            try:
                async with asyncio.timeout(self._next_wait()):
                    await self._wake.wait()
            except TimeoutError:
                pass

    def _next_wait(self) -> float:
        waits = [self._poll]
        waits += [b.wait_time() for b in self._buckets.values() if b.available() < 1]
        return max(0.005, min(waits))

    async def _claim_round(self) -> bool:
        """Claim and start what each gateway may send now; True if a slot and work are left."""
        # A read first: on an idle outbox, claiming every poll would take the write lock for
        # nothing.
        async with self._db() as session:
            due = await outbox.next_due(session)
        if due is None or due > self._clock():
            return False
        more = False
        for name, gateway in self._gateways.items():
            free = self._settings.concurrency - len(self._inflight)
            # Claiming for every slot that frees up would cost a round per message.
            if free < self._settings.concurrency // 2 and self._inflight:
                break
            bucket = self._buckets[name]
            limit = min(free, bucket.available())
            if limit <= 0:
                continue
            now = self._clock()
            async with self._writing, self._db.begin() as session:
                rows = await outbox.claim(
                    session, name, self._owner, limit, now, self._settings.lease_seconds
                )
                sendable = await self._apply_policy(session, rows, now)
            for row in sendable:
                bucket.take()
                task = asyncio.create_task(self._send(gateway, row))
                self._inflight.add(task)
                task.add_done_callback(self._done)
            more = more or len(rows) == limit
        return more and len(self._inflight) < self._settings.concurrency

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()

    async def _apply_policy(
        self, session: Any, rows: list[Claimed], now: datetime
    ) -> list[Claimed]:
        if not rows:
            return []
        numbers = sorted({row.phone for row in rows})
        opted = await outbox.opted_out(session, numbers)
        day_start = now - timedelta(hours=24)
        counts = (
            await outbox.sent_since(session, numbers, day_start) if self._policy.daily_cap else {}
        )
        sendable = []
        for row in rows:
            zone = self._zone_of(row.timezone)
            verdict = decide(
                self._policy,
                now=now,
                zone=zone,
                transactional=row.transactional,
                opted_out=row.phone in opted,
                sent_today=counts.get(row.phone, 0),
            )
            if isinstance(verdict, Defer):
                await outbox.release(
                    session, row.id, self._owner, verdict.until, text=verdict.reason, uncount=True
                )
            elif isinstance(verdict, Block):
                await outbox.finish(
                    session, row.id, self._owner, st.BLOCKED, verdict.code, verdict.reason, now
                )
                self._metrics.inc("cti_sms_sent_total", gateway=row.gateway, result="blocked")
            else:
                counts[row.phone] = counts.get(row.phone, 0) + 1
                sendable.append(row)
        return sendable

    def _zone_of(self, name: str) -> ZoneInfo:
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                pass
        return self._zone

    async def _send(self, gateway: Gateway, row: Claimed) -> None:
        message = OutgoingSms(
            message_id=row.id,
            token=row.token,
            to=row.phone,
            body=row.body,
            unicode=row.encoding == "UCS-2",
            idempotency_key=row.key or f"cti-{row.token}",
        )
        answer: Accepted | GatewayError
        try:
            answer = await gateway.send(message)
        except GatewayError as exc:
            answer = exc
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            answer = GatewayError("network", str(exc) or type(exc).__name__, temporary=True)
        except Exception as exc:
            logger.exception("SMS %d: gateway %s failed unexpectedly", row.id, row.gateway)
            answer = GatewayError("error", type(exc).__name__, temporary=True)
        self._answers.append((row, answer, self._clock()))
        self._answered.set()

    async def _write_answers(self) -> None:
        """Record the gateways' answers as they come, all that arrived meanwhile in one go."""
        while True:
            await self._answered.wait()
            self._answered.clear()
            batch, self._answers = self._answers, []
            if batch:
                try:
                    async with self._writing, self._db.begin() as session:
                        await self._record(session, batch)
                except Exception:
                    # The rows keep their lease: once it runs out they are recovered like a crash.
                    logger.exception("SMS outbox: could not record %d answers", len(batch))
            claiming = self._task is not None and not self._task.done()
            if self._stopping and not claiming and not self._inflight and not self._answers:
                return

    async def _record(
        self, session: Any, batch: list[tuple[Claimed, Accepted | GatewayError, datetime]]
    ) -> None:
        done = [
            outbox.Acceptance(row.id, answer.provider_id, answer.status, at)
            for row, answer, at in batch
            if isinstance(answer, Accepted)
        ]
        if done:
            await outbox.accepted(session, self._owner, done)
        for row, answer, at in batch:
            if isinstance(answer, Accepted):
                self._metrics.inc("cti_sms_sent_total", gateway=row.gateway, result="accepted")
            else:
                await self._failed(session, row, answer, at)

    async def _failed(self, session: Any, row: Claimed, exc: GatewayError, now: datetime) -> None:
        if exc.temporary and row.attempts < self._settings.max_attempts:
            delay = self._backoff(row.attempts, exc.retry_after)
            await outbox.release(
                session,
                row.id,
                self._owner,
                now + timedelta(seconds=delay),
                code=exc.code,
                text=exc.text,
            )
            result = "retry"
        else:
            await outbox.finish(session, row.id, self._owner, st.FAILED, exc.code, exc.text, now)
            result = "failed"
        logger.warning("SMS %d via %s: %s (%s)", row.id, row.gateway, exc, result)
        self._metrics.inc("cti_sms_sent_total", gateway=row.gateway, result=result)

    def _backoff(self, attempts: int, retry_after: float | None) -> float:
        base = self._settings.retry_seconds * 2.0 ** (attempts - 1)
        delay = min(self._settings.retry_max_seconds, base) * random.uniform(0.8, 1.2)
        return max(delay, retry_after or 0.0)

    async def _recover(self) -> None:
        now = self._clock()
        async with self._writing, self._db.begin() as session:
            for message_id, name in await outbox.expired(session, now):
                gateway = self._gateways.get(name)
                resend = gateway is not None and gateway.idempotent
                await outbox.recover(session, message_id, now, resend=resend)
                if not resend:
                    logger.warning(
                        "SMS %d: interrupted while being handed to %s; marked failed, not resent",
                        message_id,
                        name,
                    )
