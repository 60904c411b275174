"""Build the SMS service and its outbox worker around a test database, as cti.app does."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from cti import keys
from cti.bus import EventBus
from cti.config import SmsConfig
from cti.core.numbers import NumberRules, normalize
from cti.db import customers
from cti.db.models import SmsMessage
from cti.metrics import Metrics
from cti.sms.gateway import Gateway
from cti.sms.log_gateway import LogGateway
from cti.sms.policy import SendPolicy
from cti.sms.routing import Router
from cti.sms.service import SmsService
from cti.sms.worker import OutboxWorker
from tests.clocks import Clock
from tests.webtools import AppClient

# 10:00 in Shanghai, the outbox's zone in these tests: outside quiet hours.
START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


@dataclass
class Sms:
    service: SmsService
    worker: OutboxWorker
    bus: EventBus
    clock: Clock


def make_sms(
    db: async_sessionmaker[Any],
    *,
    gateways: Mapping[str, Gateway] | None = None,
    countries: Mapping[str, list[str]] | None = None,
    settings: SmsConfig | None = None,
    clock: Clock | None = None,
    zone: str = "Asia/Shanghai",
) -> Sms:
    settings = settings or SmsConfig(quiet_hours="21:00-08:00", daily_cap=3)
    gateways = gateways or {"log": LogGateway("log", "+8610000000", 0)}
    clock = clock or Clock(START)
    metrics = Metrics()
    bus = EventBus(metrics)
    policy = SendPolicy.parse(
        settings.quiet_hours, settings.daily_cap, settings.opt_out_applies_to_transactional
    )
    worker = OutboxWorker(
        db, gateways, settings, policy, ZoneInfo(zone), metrics, clock=clock, poll_seconds=0.05
    )
    service = SmsService(
        db,
        Router(gateways, countries or {name: [] for name in gateways}),
        wake=worker.wake,
        bus=bus,
        rules=NumberRules("CN"),
        suffix_digits=8,
        center_name="Harbour Hotel",
        clock=clock,
    )
    return Sms(service, worker, bus, clock)


async def add_customer(db: async_sessionmaker[Any], name: str, phone: str, **values: Any) -> int:
    async with db.begin() as session:
        number = normalize(phone, NumberRules("CN"))
        return await customers.create_customer(
            session, {"name": name, **values}, [(phone, number, "mobile")]
        )


async def message(db: async_sessionmaker[Any], message_id: int) -> SmsMessage:
    async with db() as session:
        row: SmsMessage | None = await session.get(SmsMessage, message_id)
        assert row is not None
        return row


async def app_message(client: AppClient, message_id: int) -> SmsMessage:
    """One message as the running app stored it."""
    return await message(client.app[keys.DB], message_id)


async def messages(db: async_sessionmaker[Any]) -> list[SmsMessage]:
    async with db() as session:
        return list(await session.scalars(select(SmsMessage).order_by(SmsMessage.id)))


async def settled(sms: Sms, db: async_sessionmaker[Any], wait: float = 10.0) -> list[SmsMessage]:
    """Every message, once none is being sent and none pending is due by the test's clock."""
    async with asyncio.timeout(wait):
        while True:
            rows = await messages(db)
            busy = [r for r in rows if r.status == "sending"]
            if not busy and all(r.status != "pending" or r.due_at > sms.clock() for r in rows):
                return rows
            await asyncio.sleep(0.02)
