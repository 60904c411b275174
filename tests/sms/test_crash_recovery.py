"""A service killed while handing messages to a gateway loses none and sends none twice.

`cti serve` runs in its own process, sending through the generic HTTP gateway to a provider in
this test that answers slowly, so many messages are in flight when the provider SIGKILLs the
service. A second `cti serve` on the same database then finishes the outbox.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from cti.bus import EventBus
from cti.clock import utcnow
from cti.config import DatabaseConfig
from cti.core.numbers import NumberRules
from cti.db.engine import create_engine, sessionmaker
from cti.db.models import SmsMessage
from cti.metrics import Metrics
from cti.sms.log_gateway import LogGateway
from cti.sms.routing import Router
from cti.sms.service import SmsService
from tests.test_lifecycle import free_port, start_serve, wait_until_serving
from tests.webtools import seed_users

MESSAGES = 120
KILL_AFTER = 40


@dataclass
class Provider:
    """An SMS provider on loopback that keeps one message per idempotency key, as Stripe-style
    APIs do, and pulls the plug on the service after `KILL_AFTER` requests."""

    honours_keys: bool
    requests: Counter[str] = field(default_factory=Counter)
    accepted: dict[str, str] = field(default_factory=dict)
    victim: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        key = request.headers.get("Idempotency-Key") or body["ref"]
        self.requests[key] += 1
        if sum(self.requests.values()) == KILL_AFTER and self.victim:
            os.kill(self.victim, signal.SIGKILL)
        await asyncio.sleep(0.05)
        if not self.honours_keys or key not in self.accepted:
            self.accepted[key] = f"p-{len(self.accepted) + 1}"
        return web.json_response({"id": self.accepted[key]})


async def _enqueue(db_path: Path) -> None:
    engine = create_engine(DatabaseConfig(url=f"sqlite+aiosqlite:///{db_path}"))
    gateway = LogGateway("provider", "+14155550000", 0)
    service = SmsService(
        sessionmaker(engine),
        Router({"provider": gateway}, {"provider": []}),
        wake=lambda: None,
        bus=EventBus(Metrics()),
        rules=NumberRules("US"),
        suffix_digits=8,
        center_name="test",
        clock=utcnow,
    )
    for n in range(MESSAGES):
        await service.send(f"+1415555{n:04d}", f"Reminder {n}", key=f"reminder:{n}")
    await engine.dispose()


async def _rows(db_path: Path) -> list[SmsMessage]:
    engine = create_engine(DatabaseConfig(url=f"sqlite+aiosqlite:///{db_path}"))
    async with sessionmaker(engine)() as session:
        rows = list(await session.scalars(select(SmsMessage).order_by(SmsMessage.id)))
    await engine.dispose()
    return rows


def _config(provider_url: str, honours_keys: bool) -> str:
    header = 'idempotency_header = "Idempotency-Key"\n' if honours_keys else ""
    return (
        '[sms]\nlease_seconds = 5.0\nquiet_hours = ""\ndaily_cap = 0\nconcurrency = 16\n'
        "[[sms.gateways]]\n"
        'name = "provider"\nkind = "http"\nrate_per_second = 0\n'
        f'url = "{provider_url}"\n'
        'body = { to = "{to}", text = "{body}", ref = "{key}" }\n'
        'response_id = "id"\n' + header
    )


async def _until(check: Callable[[], Awaitable[bool]], seconds: float) -> None:
    async with asyncio.timeout(seconds):
        while True:
            if await check():
                return
            await asyncio.sleep(0.1)


@pytest.mark.parametrize("honours_keys", [True, False], ids=["idempotent", "plain"])
async def test_a_killed_service_loses_no_message_and_sends_none_twice(
    tmp_path: Path, honours_keys: bool
) -> None:
    db_path = tmp_path / "cti.db"
    await seed_users(DatabaseConfig(url=f"sqlite+aiosqlite:///{db_path}"))
    await _enqueue(db_path)
    provider = Provider(honours_keys)
    app = web.Application()
    app.router.add_post("/send", provider.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    extra = _config(str(server.make_url("/send")), honours_keys)
    try:
        port = free_port()
        first = await start_serve(tmp_path, db_path, port, extra)
        provider.victim = first.pid
        assert await asyncio.wait_for(first.wait(), timeout=30) == -signal.SIGKILL
        in_flight = [r for r in await _rows(db_path) if r.status == "sending"]
        assert in_flight, "the kill did not land while messages were being handed over"

        provider.victim = 0
        second = await start_serve(tmp_path, db_path, port, extra)
        await wait_until_serving(f"http://127.0.0.1:{port}/login", second)

        async def outbox_settled() -> bool:
            return all(r.status not in ("pending", "sending") for r in await _rows(db_path))

        await _until(outbox_settled, 30)
        second.send_signal(signal.SIGTERM)
        await asyncio.wait_for(second.communicate(), timeout=20)
    finally:
        await server.close()

    rows = await _rows(db_path)
    keys = {f"reminder:{n}" for n in range(MESSAGES)}
    assert {r.idempotency_key for r in rows} == keys
    if honours_keys:
        # Interrupted messages were sent again; the provider kept one of each.
        assert set(provider.accepted) == keys
        assert {r.status for r in rows} == {"sent"}
        assert {r.idempotency_key: r.provider_id for r in rows} == provider.accepted
        assert any(count == 2 for count in provider.requests.values())
    else:
        # Nothing reached the provider twice; what the crash left unknown is marked for a person.
        assert max(provider.requests.values()) == 1
        interrupted = {r.idempotency_key for r in rows if r.error_code == "interrupted"}
        sent = {r.idempotency_key for r in rows if r.status == "sent"}
        assert interrupted == {r.idempotency_key for r in in_flight}
        assert sent | interrupted == keys
        assert sent <= set(provider.requests)
        assert {r.status for r in rows if r.idempotency_key in interrupted} == {"failed"}
