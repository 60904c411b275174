"""A generic HTTP provider reports delivery to the `{status_url}` it was given with the message."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cti import keys
from cti.app import create_app
from cti.config import Config, SmsConfig, SmsGatewayConfig
from tests.sms.smstools import app_message
from tests.webtools import AppClient

MOBILE = "+14155550123"


@pytest.fixture
async def provider() -> AsyncIterator[tuple[TestServer, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    async def send(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"data": {"id": f"prov-{len(received)}"}})

    app = web.Application()
    app.router.add_post("/messages", send)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield server, received
    await server.close()


@pytest.fixture
async def app_client(
    aiohttp_client: Callable[[web.Application], Awaitable[AppClient]],
    web_config: Config,
    provider: tuple[TestServer, list[dict[str, Any]]],
) -> AppClient:
    gateway = SmsGatewayConfig(
        name="regional",
        kind="http",
        url=str(provider[0].make_url("/messages")),
        body={"to": "{to}", "text": "{body}", "callback": "{status_url}"},
        response_id="data.id",
        rate_per_second=0,
    )
    sms = SmsConfig(gateways=[gateway], quiet_hours="", callback_url="https://cti.example")
    return await aiohttp_client(create_app(replace(web_config, sms=sms)))


async def _sent(client: AppClient, received: list[dict[str, Any]]) -> tuple[int, str]:
    """Send one message; its id and the status URL the provider was handed."""
    queued = await client.app[keys.SMS].send(MOBILE, "Your parcel arrives today")
    async with asyncio.timeout(5):
        while True:
            if (await app_message(client, queued.id)).status == "queued":
                break
            await asyncio.sleep(0.02)
    callback = received[-1]["callback"]
    assert callback.startswith("https://cti.example/sms/http/regional/status?m=")
    return queued.id, callback.removeprefix("https://cti.example")


async def test_the_provider_reports_delivery_in_json_form_or_query(
    app_client: AppClient, provider: tuple[TestServer, list[dict[str, Any]]]
) -> None:
    message_id, path = await _sent(app_client, provider[1])
    row = await app_message(app_client, message_id)
    assert (row.provider_id, row.status) == ("prov-1", "queued")
    assert (await app_client.post(path, json={"status": "SENT"})).status == 204
    assert (await app_message(app_client, message_id)).status == "sent"
    assert (await app_client.post(path, data={"state": "DELIVRD"})).status == 204
    assert (await app_message(app_client, message_id)).status == "delivered"
    # A late "sent" is harmless.
    assert (await app_client.get(path + "&status=sent")).status == 204
    assert (await app_message(app_client, message_id)).status == "delivered"


async def test_a_failure_report_keeps_the_providers_code(
    app_client: AppClient, provider: tuple[TestServer, list[dict[str, Any]]]
) -> None:
    message_id, path = await _sent(app_client, provider[1])
    report = {"status": "rejected", "error_code": "E42", "error": "blocked by carrier"}
    assert (await app_client.post(path, json=report)).status == 204
    row = await app_message(app_client, message_id)
    assert (row.status, row.error_code, row.error_text) == ("failed", "E42", "blocked by carrier")


async def test_reports_with_an_unknown_token_or_status_are_refused(
    app_client: AppClient, provider: tuple[TestServer, list[dict[str, Any]]]
) -> None:
    message_id, path = await _sent(app_client, provider[1])
    base = "/sms/http/regional/status"
    forged = await app_client.post(f"{base}?m={'0' * 32}", json={"status": "delivered"})
    assert forged.status == 403
    assert (await app_client.post(base, json={"status": "delivered"})).status == 403
    assert (await app_client.post(path, json={"status": "teleported"})).status == 400
    broken = await app_client.post(
        path, data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert broken.status == 400
    assert (await app_client.post("/sms/http/other/status?m=x", json={})).status == 404
    assert (await app_message(app_client, message_id)).status == "queued"
