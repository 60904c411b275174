"""The generic HTTP gateway against a real HTTP server playing the provider."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cti.config import SmsGatewayConfig
from cti.configload import Secret
from cti.sms import status as st
from cti.sms.gateway import GatewayError, OutgoingSms
from cti.sms.http_gateway import HttpGateway

STATUS_URL = "https://cti.example/sms/http/regional/status"
CHINESE = "您好，您的预约已确认：明天 14:30。回复 TD 退订"


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    content_type: str
    raw: bytes


@dataclass
class Provider:
    """Answers every request with `status`, `answer` (JSON unless a str) and `headers`."""

    url: str
    status: int = 200
    answer: Any = field(default_factory=lambda: {"id": "p-1"})
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(
            Seen(
                request.method,
                request.path,
                dict(request.query),
                dict(request.headers),
                request.content_type,
                await request.read(),
            )
        )
        if isinstance(self.answer, str):
            return web.Response(status=self.status, text=self.answer, headers=self.headers)
        return web.json_response(self.answer, status=self.status, headers=self.headers)

    @property
    def last(self) -> Seen:
        assert len(self.seen) == 1
        return self.seen[0]


@pytest.fixture
async def provider(
    aiohttp_server: Callable[[web.Application], Awaitable[TestServer]],
) -> Provider:
    app = web.Application()
    fake = Provider(url="")
    app.router.add_route("*", "/send", fake.handle)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url("/send"))
    return fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def gateway(http: aiohttp.ClientSession, url: str, **options: Any) -> HttpGateway:
    config = SmsGatewayConfig(name="regional", kind="http", url=url, sender="ACME", **options)
    return HttpGateway(config, http, STATUS_URL)


def message(body: str = "Your code is 482913", *, unicode: bool = False) -> OutgoingSms:
    return OutgoingSms(
        message_id=42,
        token="a1b2c3",
        to="+447911123456",
        body=body,
        unicode=unicode,
        idempotency_key="order-7-confirm",
    )


async def test_json_post_with_idempotency_header(
    provider: Provider, http: aiohttp.ClientSession
) -> None:
    provider.answer = {"data": {"message_id": "MSG-981"}}
    sms = gateway(
        http,
        provider.url,
        body={"to": "{to}", "from": "{sender}", "text": "{body}", "ref": "{id}"},
        idempotency_header="Idempotency-Key",
        response_id="data.message_id",
    )
    assert sms.idempotent

    accepted = await sms.send(message())

    assert accepted.provider_id == "MSG-981"
    # Nothing in the request tells the provider where to report, so no report will come.
    assert accepted.status == st.SENT
    seen = provider.last
    assert seen.method == "POST"
    assert seen.content_type == "application/json"
    assert json.loads(seen.raw) == {
        "to": "+447911123456",
        "from": "ACME",
        "text": "Your code is 482913",
        "ref": "42",
    }
    assert seen.headers["Idempotency-Key"] == "order-7-confirm"


async def test_form_post_asks_for_delivery_reports(
    provider: Provider, http: aiohttp.ClientSession
) -> None:
    provider.answer = "OK"
    sms = gateway(
        http,
        provider.url,
        content_type="form",
        body={"msisdn": "{to}", "message": "{body}", "dlr": "{status_url}", "dcs": "{coding}"},
    )
    assert not sms.idempotent

    accepted = await sms.send(message("Fish & chips = 2+2?"))

    # A plain-text answer carries no id: our token names the message in the reports instead.
    assert accepted.provider_id == "a1b2c3"
    assert accepted.status == st.QUEUED
    seen = provider.last
    assert seen.content_type == "application/x-www-form-urlencoded"
    assert "Idempotency-Key" not in seen.headers
    assert _form(seen) == {
        "msisdn": "+447911123456",
        "message": "Fish & chips = 2+2?",
        "dlr": f"{STATUS_URL}?m=a1b2c3",
        "dcs": "gsm7",
    }


async def test_get_with_placeholders_in_the_query(
    provider: Provider, http: aiohttp.ClientSession
) -> None:
    url = provider.url + "?user=acme&to={to}&text={body}&from={sender}&cb={status_url}"
    # A GET's body fields join the URL's query.
    sms = gateway(http, url, method="GET", body={"ref": "{key}"})

    accepted = await sms.send(message("50% off & free delivery? #today"))

    assert accepted.status == st.QUEUED
    seen = provider.last
    assert seen.method == "GET"
    assert seen.raw == b""
    assert seen.query == {
        "user": "acme",
        "to": "+447911123456",
        "text": "50% off & free delivery? #today",
        "from": "ACME",
        "ref": "order-7-confirm",
        "cb": f"{STATUS_URL}?m=a1b2c3",
    }


async def test_provider_id_path_reaches_into_lists_and_numbers(
    provider: Provider, http: aiohttp.ClientSession
) -> None:
    provider.answer = {"messages": [{"id": 77120934, "status": "accepted"}]}
    sms = gateway(http, provider.url, body={"to": "{to}"}, response_id="messages.0.id")

    assert (await sms.send(message())).provider_id == "77120934"


async def test_missing_provider_id_falls_back_to_the_token(
    provider: Provider, http: aiohttp.ClientSession
) -> None:
    provider.answer = {"data": {}}
    sms = gateway(http, provider.url, body={"to": "{to}"}, response_id="data.message_id")

    assert (await sms.send(message())).provider_id == "a1b2c3"


async def test_error_in_a_2xx_answer_is_a_permanent_refusal(
    provider: Provider, http: aiohttp.ClientSession
) -> None:
    provider.answer = {"status": "rejected", "error": {"text": "sender ACME is not registered"}}
    sms = gateway(
        http, provider.url, body={"to": "{to}"}, response_id="id", response_error="error.text"
    )

    with pytest.raises(GatewayError) as caught:
        await sms.send(message())

    assert caught.value.code == "refused"
    assert caught.value.text == "sender ACME is not registered"
    assert not caught.value.temporary


async def test_empty_error_field_is_no_refusal(
    provider: Provider, http: aiohttp.ClientSession
) -> None:
    provider.answer = {"id": "p-9", "error": None}
    sms = gateway(http, provider.url, body={"to": "{to}"}, response_id="id", response_error="error")

    assert (await sms.send(message())).provider_id == "p-9"


async def test_429_is_retried_after_the_providers_delay(
    provider: Provider, http: aiohttp.ClientSession
) -> None:
    provider.status = 429
    provider.answer = {"error": "slow down"}
    provider.headers = {"Retry-After": "30"}
    sms = gateway(http, provider.url, body={"to": "{to}"})

    with pytest.raises(GatewayError) as caught:
        await sms.send(message())

    assert caught.value.code == "429"
    assert caught.value.temporary
    assert caught.value.retry_after == 30.0
    assert "slow down" in caught.value.text


@pytest.mark.parametrize(("status", "temporary"), [(503, True), (500, True), (400, False)])
async def test_http_status_decides_whether_to_retry(
    provider: Provider, http: aiohttp.ClientSession, status: int, temporary: bool
) -> None:
    provider.status = status
    provider.answer = "invalid destination"
    sms = gateway(http, provider.url, body={"to": "{to}"})

    with pytest.raises(GatewayError) as caught:
        await sms.send(message())

    assert caught.value.code == str(status)
    assert caught.value.text == "invalid destination"
    assert caught.value.temporary is temporary
    assert caught.value.retry_after is None


async def test_connection_refused_is_a_temporary_network_error(
    http: aiohttp.ClientSession,
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sms = gateway(http, f"http://127.0.0.1:{port}/send", body={"to": "{to}"})

    with pytest.raises(GatewayError) as caught:
        await sms.send(message())

    assert caught.value.code == "network"
    assert caught.value.temporary
    assert str(port) in caught.value.text


async def test_secret_headers_arrive_and_stay_out_of_reprs(
    provider: Provider, http: aiohttp.ClientSession
) -> None:
    headers = {"Authorization": Secret("Bearer tok-5up3r"), "X-Api-Key": Secret("k-123")}
    sms = gateway(http, provider.url, body={"to": "{to}"}, headers=headers)

    await sms.send(message())

    assert provider.last.headers["Authorization"] == "Bearer tok-5up3r"
    assert provider.last.headers["X-Api-Key"] == "k-123"


async def test_non_latin_text_arrives_intact_in_the_query(
    provider: Provider, http: aiohttp.ClientSession
) -> None:
    sms = gateway(http, provider.url + "?coding={coding}&text={body}", method="GET")

    await sms.send(message(CHINESE, unicode=True))

    assert provider.last.query == {"coding": "ucs2", "text": CHINESE}


@pytest.mark.parametrize("content_type", ["json", "form"])
async def test_non_latin_text_arrives_intact_in_the_body(
    provider: Provider, http: aiohttp.ClientSession, content_type: Literal["json", "form"]
) -> None:
    sms = gateway(
        http, provider.url, content_type=content_type, body={"text": "{body}", "dcs": "{coding}"}
    )

    await sms.send(message(CHINESE, unicode=True))

    seen = provider.last
    sent = json.loads(seen.raw) if content_type == "json" else _form(seen)
    assert sent == {"text": CHINESE, "dcs": "ucs2"}


def _form(seen: Seen) -> dict[str, str]:
    return dict(parse_qsl(seen.raw.decode("ascii"), strict_parsing=True))
