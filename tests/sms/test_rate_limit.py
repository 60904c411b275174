"""Each sender keeps to its rate; senders do not wait for each other; routing by country."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy.ext.asyncio import async_sessionmaker

from cti.config import SmsConfig, SmsGatewayConfig
from cti.errors import DomainError
from cti.sms.gateway import Gateway
from cti.sms.http_gateway import HttpGateway
from tests.sms.smstools import make_sms, settled

RATE = 4.0
PER_SENDER = 10


@pytest.fixture
async def provider() -> AsyncIterator[tuple[TestServer, dict[str, list[float]]]]:
    arrivals: dict[str, list[float]] = defaultdict(list)

    async def send(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        arrivals[body["from"]].append(time.monotonic())
        return web.json_response({"id": str(len(arrivals[body["from"]]))})

    app = web.Application()
    app.router.add_post("/send", send)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, arrivals
    await server.close()


def _gateway(name: str, sender: str, url: str, http: aiohttp.ClientSession) -> Gateway:
    config = SmsGatewayConfig(
        name=name,
        kind="http",
        sender=sender,
        rate_per_second=RATE,
        url=url,
        body={"to": "{to}", "from": "{sender}", "text": "{body}"},
        response_id="id",
    )
    return HttpGateway(config, http, "http://cti.example/sms/http/x/status")


async def test_each_sender_keeps_its_rate_and_senders_run_side_by_side(
    db: async_sessionmaker[Any], provider: tuple[TestServer, dict[str, list[float]]]
) -> None:
    server, arrivals = provider
    url = str(server.make_url("/send"))
    async with aiohttp.ClientSession() as http:
        gateways = {
            "uk": _gateway("uk", "+447700900001", url, http),
            "us": _gateway("us", "+14155550001", url, http),
        }
        sms = make_sms(
            db,
            gateways=gateways,
            countries={"uk": ["GB"], "us": []},
            settings=SmsConfig(quiet_hours="", daily_cap=0),
        )
        for n in range(PER_SENDER):
            await sms.service.send(f"+4474001{n:05d}", f"uk {n}")
            await sms.service.send(f"+1415555{n:04d}", f"us {n}")
        sms.worker.start()
        try:
            rows = await settled(sms, db, wait=15)
        finally:
            await sms.worker.stop()
    assert {r.status for r in rows} == {"sent"}
    assert {sender: len(times) for sender, times in arrivals.items()} == {
        "+447700900001": PER_SENDER,
        "+14155550001": PER_SENDER,
    }
    for times in arrivals.values():
        # A burst of one second's worth, then one every 1/RATE s.
        spread = times[-1] - times[0]
        assert spread >= (PER_SENDER - RATE) / RATE * 0.9, spread
        # Token bucket: no stretch of time holds more than the burst plus the rate times its length.
        for i, start in enumerate(times):
            for j in range(i, len(times)):
                assert j - i + 1 <= RATE + RATE * (times[j] - start) + 0.5, (i, j)
    # The two senders were not queued behind each other: their sends overlap in time.
    uk, us = arrivals.values()
    assert max(uk[0], us[0]) < min(uk[-1], us[-1])


async def test_a_destination_no_gateway_serves_is_refused(db: async_sessionmaker[Any]) -> None:
    async with aiohttp.ClientSession() as http:
        gateway = _gateway("uk", "+447700900001", "http://127.0.0.1:9/send", http)
        sms = make_sms(db, gateways={"uk": gateway}, countries={"uk": ["GB"]})
        with pytest.raises(DomainError, match="no SMS gateway is configured for numbers in US"):
            await sms.service.send("+14155550100", "hello")
        queued = await sms.service.send("+447400123456", "hello")
        assert queued.created
