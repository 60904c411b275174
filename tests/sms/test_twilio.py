"""Twilio: the gateway against Prism and a wire-level stub; its webhooks through the app."""

from __future__ import annotations

import asyncio
import logging
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from cti import keys
from cti.app import create_app
from cti.config import Config, SmsConfig, SmsGatewayConfig
from cti.configload import Secret
from cti.db.models import SmsMessage
from cti.sms import status as st
from cti.sms.gateway import Accepted, GatewayError, OutgoingSms
from cti.sms.twilio_gateway import TwilioGateway
from tests.sms.peers import PrismPeer, free_ports
from tests.sms.smstools import app_message
from tests.webtools import AppClient

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "auth-token-of-the-tests"
SERVICE_SID = "MG" + "fedcba9876543210" * 2
PUBLIC = "https://cti.example.com"
STATUS_URL = f"{PUBLIC}/sms/twilio/main/status"
OUR_NUMBER = "+15005550006"
MOBILE = "+14155550100"  # US numbers may be mobile or fixed: both can take a text
CENTER = "Harbour & Sons"
CHINESE = "您好，您的预约已确认：明天 14:30。"
TIMEOUT = 10.0

MakeGateway = Callable[..., TwilioGateway]
MakeServer = Callable[[web.Application], Awaitable[TestServer]]


def twilio_config(**changes: Any) -> SmsGatewayConfig:
    values: dict[str, Any] = {
        "name": "main",
        "kind": "twilio",
        "account_sid": ACCOUNT_SID,
        "auth_token": Secret(AUTH_TOKEN),
        "sender": OUR_NUMBER,
        "rate_per_second": 0,
    }
    return SmsGatewayConfig(**{**values, **changes})


def outgoing(body: str = "Your table is ready") -> OutgoingSms:
    return OutgoingSms(
        message_id=7,
        token="0123456789abcdef0123456789abcdef",
        to=MOBILE,
        body=body,
        unicode=not body.isascii(),
        idempotency_key="cti-7",
    )


@pytest.fixture
async def make_gateway() -> AsyncIterator[MakeGateway]:
    """Builds gateways pointed at a stand-in for Twilio, and closes them after the test."""
    made: list[TwilioGateway] = []

    def make(api_base: str, **changes: Any) -> TwilioGateway:
        gateway = TwilioGateway(twilio_config(url=api_base, **changes), STATUS_URL)
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.close()


# --- (a) against Prism, which checks requests against Twilio's OpenAPI spec ----------------------


@pytest.mark.parametrize(
    "origin",
    [{"sender": OUR_NUMBER}, {"sender": "", "messaging_service_sid": SERVICE_SID}],
    ids=["sender", "messaging-service"],
)
async def test_prism_accepts_a_message(
    prism: PrismPeer, make_gateway: MakeGateway, origin: dict[str, str]
) -> None:
    gateway = make_gateway(prism.url, **origin)
    async with asyncio.timeout(TIMEOUT):
        accepted = await gateway.send(outgoing())
    assert accepted.provider_id.startswith("SM")
    assert accepted.status == st.QUEUED


@pytest.mark.parametrize(
    "changes",
    [
        {"account_sid": "ACnot-an-account"},
        # Prism checks the service sid's pattern: proof that it is sent, under its own name.
        {"sender": "", "messaging_service_sid": "MGnot-a-service"},
    ],
    ids=["account-sid", "messaging-service-sid"],
)
async def test_prism_refuses_a_malformed_sid_for_good(
    prism: PrismPeer, make_gateway: MakeGateway, changes: dict[str, str]
) -> None:
    gateway = make_gateway(prism.url, **changes)
    with pytest.raises(GatewayError) as refused:
        async with asyncio.timeout(TIMEOUT):
            await gateway.send(outgoing())
    assert (refused.value.code, refused.value.temporary) == ("422", False)


# --- (b) against a stub speaking Twilio's wire format, for what Prism cannot do ------------------


@dataclass
class Seen:
    path: str
    authorization: str
    form: dict[str, str]


@dataclass
class TwilioStub:
    """Answers POST /2010-04-01/Accounts/{sid}/Messages.json with `status` and `answer`."""

    url: str = ""
    status: int = 201
    answer: Any = field(
        default_factory=lambda: {"sid": "SM" + "5" * 32, "status": "queued", "error_code": None}
    )
    seen: list[Seen] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        form = dict(parse_qsl((await request.read()).decode(), keep_blank_values=True))
        self.seen.append(Seen(request.path, request.headers.get("Authorization", ""), form))
        if isinstance(self.answer, str):
            return web.Response(status=self.status, text=self.answer)
        return web.json_response(self.answer, status=self.status)


@pytest.fixture
async def stub(aiohttp_server: MakeServer) -> TwilioStub:
    app = web.Application()
    fake = TwilioStub()
    app.router.add_post("/2010-04-01/Accounts/{sid}/Messages.json", fake.handle)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.mark.parametrize(
    ("origin", "sent"),
    [
        ({"sender": OUR_NUMBER}, {"From": OUR_NUMBER}),
        (
            {"sender": "", "messaging_service_sid": SERVICE_SID},
            {"MessagingServiceSid": SERVICE_SID},
        ),
        (
            {"sender": OUR_NUMBER, "messaging_service_sid": SERVICE_SID},
            {"From": OUR_NUMBER, "MessagingServiceSid": SERVICE_SID},
        ),
    ],
    ids=["sender", "messaging-service", "both"],
)
async def test_the_request_carries_the_message_its_callback_and_the_account(
    stub: TwilioStub, make_gateway: MakeGateway, origin: dict[str, str], sent: dict[str, str]
) -> None:
    accepted = await make_gateway(stub.url, **origin).send(outgoing(CHINESE))
    assert accepted == Accepted(provider_id="SM" + "5" * 32, status=st.QUEUED)
    (seen,) = stub.seen
    assert seen.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert seen.authorization == aiohttp.encode_basic_auth(ACCOUNT_SID, AUTH_TOKEN)
    assert seen.form == {
        "To": MOBILE,
        "Body": CHINESE,
        "StatusCallback": f"{STATUS_URL}?m={outgoing().token}",
        **sent,
    }


@pytest.mark.parametrize(
    ("status", "answer", "code", "text", "temporary"),
    [
        (
            400,
            {
                "code": 21211,
                "message": "The 'To' number is not a valid phone number.",
                "more_info": "https://www.twilio.com/docs/errors/21211",
                "status": 400,
            },
            "21211",
            "The 'To' number is not a valid phone number.",
            False,
        ),
        (
            429,
            {"code": 20429, "message": "Too Many Requests", "status": 429},
            "20429",
            "Too Many Requests",
            True,
        ),
        (500, "Internal Server Error", "500", "Unable to create record", True),
        (
            503,
            {
                "type": "https://www.twilio.com/docs/errors/20503",
                "title": "Service Unavailable",
                "status": 503,
                "code": 20503,
                "detail": "Try again shortly.",
            },
            "20503",
            "Try again shortly.",
            True,
        ),
    ],
    ids=["invalid-to", "too-many-requests", "server-error", "problem-details"],
)
async def test_twilio_refusals_keep_its_code_and_say_whether_to_retry(
    stub: TwilioStub,
    make_gateway: MakeGateway,
    status: int,
    answer: Any,
    code: str,
    text: str,
    temporary: bool,
) -> None:
    stub.status, stub.answer = status, answer
    with pytest.raises(GatewayError) as refused:
        await make_gateway(stub.url).send(outgoing())
    assert (refused.value.code, refused.value.text) == (code, text)
    assert refused.value.temporary is temporary


async def test_an_unreachable_twilio_is_a_temporary_network_error(
    make_gateway: MakeGateway,
) -> None:
    (port,) = free_ports(1)
    with pytest.raises(GatewayError) as failed:
        await make_gateway(f"http://127.0.0.1:{port}").send(outgoing())
    assert (failed.value.code, failed.value.temporary) == ("network", True)


async def test_the_auth_token_never_reaches_the_log(
    stub: TwilioStub, make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await make_gateway(stub.url).send(outgoing())
    stub.status, stub.answer = 401, {"code": 20003, "message": "Authenticate", "status": 401}
    with pytest.raises(GatewayError):
        await make_gateway(stub.url).send(outgoing())
    assert "Twilio API Request" in caplog.text  # the library did log its requests
    credentials = aiohttp.encode_basic_auth(ACCOUNT_SID, AUTH_TOKEN).removeprefix("Basic ")
    assert AUTH_TOKEN not in caplog.text
    assert credentials not in caplog.text


# --- (c) Twilio's webhooks, signed as Twilio signs them, through the whole app -------------------


StartApp = Callable[..., Awaitable[AppClient]]


@pytest.fixture
def start_app(
    aiohttp_client: Callable[[web.Application], Awaitable[AppClient]],
    web_config: Config,
    prism: PrismPeer,
) -> StartApp:
    """cti with one Twilio gateway that sends to Prism; Twilio reaches it at the given base."""

    async def start(callback_url: str = PUBLIC, public_url: str = "") -> AppClient:
        sms = SmsConfig(
            gateways=[twilio_config(url=prism.url)],
            callback_url=callback_url,
            quiet_hours="",
            center_name=CENTER,
        )
        server = replace(web_config.server, public_url=public_url)
        return await aiohttp_client(create_app(replace(web_config, sms=sms, server=server)))

    return start


@pytest.fixture
async def app_client(start_app: StartApp) -> AppClient:
    return await start_app()


async def twilio_post(
    client: AppClient,
    path: str,
    fields: dict[str, str],
    *,
    token: str | None = AUTH_TOKEN,
    signed: dict[str, str] | None = None,
    base: str = PUBLIC,
    headers: dict[str, str] | None = None,
) -> aiohttp.ClientResponse:
    """POST `fields` as Twilio would: signed with `token` (None: no signature) over `base` +
    `path` and `signed` (by default the fields themselves)."""
    headers = dict(headers or {})
    if token is not None:
        validator = RequestValidator(token)
        headers["X-Twilio-Signature"] = validator.compute_signature(
            base + path, fields if signed is None else signed
        )
    return await client.post(path, data=fields, headers=headers)


def status_fields(sid: str, status: str, **more: str) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "From": OUR_NUMBER,
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": MOBILE,
        **more,
    }


def inbound_fields(body: str, sid: str = "SM" + "1" * 32) -> dict[str, str]:
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": MOBILE,
        "FromCountry": "US",
        "MessageSid": sid,
        "MessagingServiceSid": "",  # empty fields are signed too
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsMessageSid": sid,
        "SmsStatus": "received",
        "To": OUR_NUMBER,
    }


async def queued_message(client: AppClient) -> SmsMessage:
    """A message the worker handed to Twilio (Prism) for real."""
    queued = await client.app[keys.SMS].send(MOBILE, "Your table is ready")
    async with asyncio.timeout(TIMEOUT):
        while (message := await app_message(client, queued.id)).status != st.QUEUED:
            assert message.status in (st.PENDING, st.SENDING), message.error_text
            await asyncio.sleep(0.02)
    assert message.provider_id.startswith("SM")
    return message


async def test_a_signed_status_callback_moves_a_message_forward_and_never_back(
    app_client: AppClient,
) -> None:
    message = await queued_message(app_client)
    path = f"/sms/twilio/main/status?m={message.token}"
    delivered = status_fields(message.provider_id, "delivered")
    assert (await twilio_post(app_client, path, delivered)).status == 204
    after = await app_message(app_client, message.id)
    assert after.status == st.DELIVERED
    # Twilio repeats itself and reports out of order.
    assert (await twilio_post(app_client, path, delivered)).status == 204
    sent = status_fields(message.provider_id, "sent")
    assert (await twilio_post(app_client, path, sent)).status == 204
    final = await app_message(app_client, message.id)
    assert (final.status, final.status_at) == (st.DELIVERED, after.status_at)


async def test_forged_or_unsigned_status_callbacks_change_nothing(app_client: AppClient) -> None:
    message = await queued_message(app_client)
    path = f"/sms/twilio/main/status?m={message.token}"
    delivered = status_fields(message.provider_id, "delivered")
    attempts = {
        "wrong token": await twilio_post(app_client, path, delivered, token="not-the-token"),
        "no signature": await twilio_post(app_client, path, delivered, token=None),
        "changed after signing": await twilio_post(
            app_client, path, delivered, signed=status_fields(message.provider_id, "sent")
        ),
    }
    assert {why: response.status for why, response in attempts.items()} == dict.fromkeys(
        attempts, 403
    )
    assert (await app_message(app_client, message.id)).status == st.QUEUED


async def test_a_callback_signed_for_another_message_cannot_be_replayed(
    app_client: AppClient,
) -> None:
    message = await queued_message(app_client)
    fields = status_fields(message.provider_id, "failed", ErrorCode="30007")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(f"{STATUS_URL}?m={'f' * 32}", fields)
    replayed = await app_client.post(
        f"/sms/twilio/main/status?m={message.token}",
        data=fields,
        headers={"X-Twilio-Signature": signature},
    )
    assert replayed.status == 403
    assert (await app_message(app_client, message.id)).status == st.QUEUED


async def test_a_failure_found_by_sid_keeps_twilio_error_code(app_client: AppClient) -> None:
    message = await queued_message(app_client)
    fields = status_fields(message.provider_id, "undelivered", ErrorCode="30003")
    assert (await twilio_post(app_client, "/sms/twilio/main/status", fields)).status == 204
    after = await app_message(app_client, message.id)
    assert (after.status, after.error_code) == (st.UNDELIVERED, "30003")


async def test_unknown_statuses_and_messages_are_acknowledged_and_ignored(
    app_client: AppClient,
) -> None:
    message = await queued_message(app_client)
    ours = f"/sms/twilio/main/status?m={message.token}"
    stranger = f"/sms/twilio/main/status?m={'f' * 32}"
    answers = [
        await twilio_post(app_client, ours, status_fields(message.provider_id, "receiving")),
        await twilio_post(app_client, stranger, status_fields("SM" + "9" * 32, "delivered")),
    ]
    assert [answer.status for answer in answers] == [204, 204]
    assert (await app_message(app_client, message.id)).status == st.QUEUED


async def test_a_gateway_that_is_not_configured_is_not_found(app_client: AppClient) -> None:
    fields = status_fields("SM" + "9" * 32, "delivered")
    assert (await twilio_post(app_client, "/sms/twilio/other/status", fields)).status == 404


async def test_a_signed_stop_opts_out_and_leaves_the_confirmation_to_twilio(
    app_client: AppClient,
) -> None:
    answer = await twilio_post(app_client, "/sms/twilio/main/inbound", inbound_fields("STOP"))
    assert answer.status == 200
    assert answer.content_type == "application/xml"
    twiml = ET.fromstring(await answer.read())
    assert twiml.tag == "Response"
    # Twilio confirms its own opt-out words; a second confirmation would be refused (21610).
    assert list(twiml) == []
    assert await app_client.app[keys.SMS].opted_out(MOBILE)


async def test_a_chinese_unsubscribe_is_confirmed_in_escaped_twiml(app_client: AppClient) -> None:
    answer = await twilio_post(app_client, "/sms/twilio/main/inbound", inbound_fields("退订"))
    twiml = ET.fromstring(await answer.read())
    assert [(m.tag, m.text) for m in twiml] == [
        ("Message", f"您已退订{CENTER}的短信。回复START可重新订阅。")
    ]
    assert b"&amp;" in await answer.read()
    assert await app_client.app[keys.SMS].opted_out(MOBILE)


async def test_a_plain_inbound_message_is_stored_once_and_answered_with_nothing(
    app_client: AppClient,
) -> None:
    fields = inbound_fields("Running 10 minutes late")
    for _ in range(2):  # Twilio retries when it does not hear back in time
        answer = await twilio_post(app_client, "/sms/twilio/main/inbound", fields)
        assert answer.status == 200
        twiml = ET.fromstring(await answer.read())
        assert (twiml.tag, list(twiml)) == ("Response", [])
    async with app_client.app[keys.DB]() as session:
        stored = list(await session.scalars(select(SmsMessage)))
    assert [(m.direction, m.phone, m.body, m.gateway, m.status) for m in stored] == [
        ("in", MOBILE, "Running 10 minutes late", "main", st.RECEIVED)
    ]


async def test_a_forged_inbound_message_is_refused_and_not_stored(app_client: AppClient) -> None:
    path = "/sms/twilio/main/inbound"
    forged = await twilio_post(app_client, path, inbound_fields("STOP"), token="not-the-token")
    unsigned = await twilio_post(app_client, path, inbound_fields("STOP"), token=None)
    assert (forged.status, unsigned.status) == (403, 403)
    assert not await app_client.app[keys.SMS].opted_out(MOBILE)
    async with app_client.app[keys.DB]() as session:
        assert list(await session.scalars(select(SmsMessage))) == []


async def test_the_server_public_url_is_the_signed_base_when_no_callback_url_is_set(
    start_app: StartApp,
) -> None:
    client = await start_app(callback_url="", public_url=PUBLIC + "/")
    answer = await twilio_post(client, "/sms/twilio/main/inbound", inbound_fields("Hello"))
    assert answer.status == 200


async def test_without_a_public_base_the_url_requested_is_signed_and_proxy_headers_are_not(
    start_app: StartApp,
) -> None:
    client = await start_app(callback_url="", public_url="")
    path = "/sms/twilio/main/inbound"
    direct = str(client.make_url("")).rstrip("/")
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "cti.example.com"}
    spoofed = await twilio_post(client, path, inbound_fields("Hello"), headers=forwarded)
    assert spoofed.status == 403
    answer = await twilio_post(client, path, inbound_fields("Hello"), base=direct)
    assert answer.status == 200
