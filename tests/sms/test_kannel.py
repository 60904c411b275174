"""Kannel: the gateway against a real bearerbox and smsbox, and its callbacks through the app."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from cti import keys
from cti.app import create_app
from cti.config import Config, SmsConfig, SmsGatewayConfig
from cti.configload import Secret
from cti.db.models import SmsMessage
from cti.sms import status as st
from cti.sms.encoding import analyse
from cti.sms.gateway import Accepted, GatewayError, OutgoingSms
from cti.sms.kannel_gateway import KannelGateway
from cti.sms.service import Queued
from tests.sms.peers import KannelFactory, KannelPeer, MtMessage, free_ports
from tests.sms.smstools import add_customer, app_message
from tests.sms.test_peers import Recorder
from tests.webtools import AppClient

TIMEOUT = 10.0
NAME = "kannel"
# "+" and "/" must survive URL-encoding into the dlr-url and Kannel's own %-fields.
TOKEN = "kannel+hook/token-of-cti"
MOBILE = "+8613800138000"
OUR_SENDER = "95555"
CENTER = "Harbour Hotel"
CHINESE = "您好，您的预约已确认：明天 14:30。"
ACCENTED = "Café au lait: é ü ñ € [ok]"

MakeServer = Callable[[web.Application], Awaitable[TestServer]]


def outgoing(body: str, token: str = "0123456789abcdef0123456789abcdef") -> OutgoingSms:
    return OutgoingSms(
        message_id=7,
        token=token,
        to=MOBILE,
        body=body,
        unicode=analyse(body).scheme == "UCS-2",
        idempotency_key="cti-7",
    )


def closed_url(path: str = "/cgi-bin/sendsms") -> str:
    (port,) = free_ports(1)
    return f"http://127.0.0.1:{port}{path}"


# --- (a) the gateway alone, sending through Kannel to the fake SMSC ------------------------------


@dataclass
class GatewayRig:
    kannel: KannelPeer
    reports: Recorder
    dlr_url: str
    http: aiohttp.ClientSession

    def gateway(self, **changes: Any) -> KannelGateway:
        values: dict[str, Any] = {
            "name": NAME,
            "kind": "kannel",
            "url": self.kannel.sendsms_url,
            "username": self.kannel.username,
            "password": Secret(self.kannel.password),
            "sender": OUR_SENDER,
            "rate_per_second": 0,
        }
        return KannelGateway(SmsGatewayConfig(**{**values, **changes}), self.http, self.dlr_url)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def gateway_rig(
    kannel_factory: KannelFactory, aiohttp_server: MakeServer, http: aiohttp.ClientSession
) -> GatewayRig:
    reports = Recorder()
    app = web.Application()
    app.router.add_get("/dlr", reports.handle)
    server = await aiohttp_server(app)
    kannel = await kannel_factory(closed_url("/mo?key=unused"))
    dlr_url = f"{server.make_url('/dlr')}?key={quote(TOKEN, safe='')}"
    return GatewayRig(kannel, reports, dlr_url, http)


async def test_ascii_and_chinese_texts_reach_the_smsc_exactly(gateway_rig: GatewayRig) -> None:
    gateway = gateway_rig.gateway()
    first = await gateway.send(outgoing("Your table is ready", token="a" * 32))
    second = await gateway.send(outgoing(CHINESE, token="b" * 32))
    # Kannel has no id of its own: our token names the message in its reports.
    assert (first, second) == (
        Accepted(provider_id="a" * 32, status=st.QUEUED),
        Accepted(provider_id="b" * 32, status=st.QUEUED),
    )
    received = await gateway_rig.kannel.smsc.wait_for(2, TIMEOUT)
    assert sorted(received, key=lambda m: m.coding) == [
        MtMessage(OUR_SENDER, MOBILE, 0, "Your table is ready"),
        MtMessage(OUR_SENDER, MOBILE, 2, CHINESE),
    ]


async def test_accented_gsm_text_arrives_intact_from_the_global_sender(
    gateway_rig: GatewayRig,
) -> None:
    assert analyse(ACCENTED).scheme == "GSM-7"
    await gateway_rig.gateway(sender="").send(outgoing(ACCENTED))
    assert await gateway_rig.kannel.smsc.wait_for(1, TIMEOUT) == [
        MtMessage(gateway_rig.kannel.global_sender, MOBILE, 0, ACCENTED)
    ]


async def test_delivery_reports_carry_the_key_and_the_message_token(
    gateway_rig: GatewayRig,
) -> None:
    message = outgoing("Your table is ready")
    await gateway_rig.gateway().send(message)
    reports = await gateway_rig.reports.wait_for(2)
    # The fake SMSC acknowledges (8) and delivers (1) at once, in either order.
    assert sorted((r["s"], r["a"]) for r in reports) == [("1", ""), ("8", "ACK/")]
    assert {(r["key"], r["m"]) for r in reports} == {(TOKEN, message.token)}


async def test_a_wrong_password_is_refused_for_good(gateway_rig: GatewayRig) -> None:
    with pytest.raises(GatewayError) as refused:
        await gateway_rig.gateway(password=Secret("wrong")).send(outgoing("Your table is ready"))
    assert (refused.value.code, refused.value.text, refused.value.temporary) == (
        "403",
        "Authorization failed for sendsms",
        False,
    )
    assert gateway_rig.kannel.smsc.messages == []


async def test_a_message_without_receiver_is_refused_for_good(gateway_rig: GatewayRig) -> None:
    with pytest.raises(GatewayError) as refused:
        await gateway_rig.gateway().send(replace(outgoing("Your table is ready"), to=""))
    assert (refused.value.code, refused.value.temporary) == ("400", False)
    assert "receiver" in refused.value.text


async def test_without_an_smsc_kannel_queues_the_message(gateway_rig: GatewayRig) -> None:
    await gateway_rig.kannel.smsc.close()
    accepted = await gateway_rig.gateway().send(outgoing("Your table is ready"))
    assert accepted == Accepted(provider_id=outgoing("").token, status=st.QUEUED)


async def test_a_closed_sendsms_port_is_a_temporary_network_error(
    http: aiohttp.ClientSession,
) -> None:
    config = SmsGatewayConfig(
        name=NAME, kind="kannel", url=closed_url(), username="cti", password=Secret("pw")
    )
    with pytest.raises(GatewayError) as failed:
        await KannelGateway(config, http, closed_url("/dlr?key=k")).send(outgoing("Hello"))
    assert (failed.value.code, failed.value.temporary) == ("network", True)


async def test_an_answer_that_is_not_http_is_temporary_and_keeps_the_password_out(
    http: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    async def garble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"garbage\r\n\r\n")
        await writer.drain()
        writer.close()

    caplog.set_level(logging.DEBUG)
    server = await asyncio.start_server(garble, "127.0.0.1", 0)
    async with server:
        port = server.sockets[0].getsockname()[1]
        config = SmsGatewayConfig(
            name=NAME,
            kind="kannel",
            url=f"http://127.0.0.1:{port}/cgi-bin/sendsms",
            username="cti",
            password=Secret("password-of-the-tests"),
        )
        with pytest.raises(GatewayError) as failed:
            await KannelGateway(config, http, closed_url("/dlr?key=k")).send(outgoing("Hello"))
    assert (failed.value.code, failed.value.temporary) == ("network", True)
    assert failed.value.text.startswith("unreadable answer: ")
    # aiohttp's own message for this names the URL, query and all.
    assert "password-of-the-tests" not in str(failed.value)
    assert "password-of-the-tests" not in caplog.text


# --- (b) the whole app: the worker sends through Kannel, Kannel calls back ------------------------


StartApp = Callable[..., Awaitable[AppClient]]


@pytest.fixture
def start_app(aiohttp_client: Callable[..., Awaitable[AppClient]], web_config: Config) -> StartApp:
    """cti with one Kannel gateway, served on `port` (any when 0)."""

    async def start(
        *,
        sendsms_url: str,
        username: str = "cti",
        password: str = "pw",
        token: str = TOKEN,
        port: int = 0,
    ) -> AppClient:
        gateway = SmsGatewayConfig(
            name=NAME,
            kind="kannel",
            url=sendsms_url,
            username=username,
            password=Secret(password),
            rate_per_second=0,
        )
        sms = SmsConfig(
            gateways=[gateway],
            callback_url=f"http://127.0.0.1:{port}",
            webhook_token=Secret(token),
            quiet_hours="",
            center_name=CENTER,
        )
        app = create_app(replace(web_config, sms=sms))
        return await aiohttp_client(app, server_kwargs={"port": port})

    return start


@dataclass
class AppRig:
    client: AppClient
    kannel: KannelPeer


@pytest.fixture
async def app_rig(kannel_factory: KannelFactory, start_app: StartApp) -> AppRig:
    """cti and a Kannel that know each other's URLs: Kannel needs the app's for inbound SMS
    before it starts, the app needs Kannel's sendsms URL before it starts."""
    # Held while Kannel picks its own free ports, so that none of them is the app's.
    with socket.socket() as reserved:
        reserved.bind(("127.0.0.1", 0))
        port = reserved.getsockname()[1]
        mo_url = f"http://127.0.0.1:{port}/sms/kannel/{NAME}/mo?key={quote(TOKEN, safe='')}"
        kannel = await kannel_factory(mo_url)
    client = await start_app(
        sendsms_url=kannel.sendsms_url,
        username=kannel.username,
        password=kannel.password,
        port=port,
    )
    return AppRig(client, kannel)


@pytest.fixture
async def app_client(start_app: StartApp) -> AppClient:
    """cti with a Kannel gateway nobody listens for: for calls made to the app directly."""
    return await start_app(sendsms_url=closed_url())


async def all_rows(client: AppClient) -> list[SmsMessage]:
    async with client.app[keys.DB]() as session:
        return list(await session.scalars(select(SmsMessage).order_by(SmsMessage.id)))


async def unsent(client: AppClient) -> Queued:
    """A message the worker leaves alone for now, so that only the test's reports move it."""
    later = datetime.now(UTC) + timedelta(days=1)
    return await client.app[keys.SMS].send(MOBILE, "Your table is ready", due_at=later)


def dlr_query(token: str, kind: str, key: str | None = TOKEN, answer: str = "") -> dict[str, str]:
    query = {"m": token, "s": kind, "a": answer}
    return query if key is None else {"key": key, **query}


def mo_query(text: str, key: str | None = TOKEN, **changes: str) -> dict[str, str]:
    """An inbound SMS as Kannel's get-url carries it."""
    query = {
        "from": MOBILE,
        "to": "10086",
        "text": text,
        "smsc": "FAKE",
        "time": "2026-11-30 09:15:02",
        "coding": "0",
        "charset": "UTF-8",
        **changes,
    }
    return query if key is None else {"key": key, **query}


async def test_a_chinese_message_goes_out_through_kannel_and_ends_delivered(
    app_rig: AppRig,
) -> None:
    queued = await app_rig.client.app[keys.SMS].send(MOBILE, CHINESE)
    assert await app_rig.kannel.smsc.wait_for(1, TIMEOUT) == [
        MtMessage(app_rig.kannel.global_sender, MOBILE, 2, CHINESE)
    ]
    async with asyncio.timeout(TIMEOUT):
        while (message := await app_message(app_rig.client, queued.id)).status != st.DELIVERED:
            assert message.status not in st.FINAL, (message.status, message.error_text)
            await asyncio.sleep(0.02)
    assert message.provider_id == message.token
    assert (message.error_code, message.error_text) == ("", "")


async def test_a_delivery_report_with_a_wrong_or_no_key_changes_nothing(
    app_client: AppClient,
) -> None:
    queued = await unsent(app_client)
    token = (await app_message(app_client, queued.id)).token
    path = f"/sms/kannel/{NAME}/dlr"
    forged = [
        await app_client.get(path, params=dlr_query(token, "1", key="not-the-token-at-all")),
        await app_client.get(path, params=dlr_query(token, "1", key=None)),
    ]
    assert [response.status for response in forged] == [403, 403]
    assert (await app_message(app_client, queued.id)).status == st.PENDING
    # The same report with the key does take effect.
    assert (await app_client.get(path, params=dlr_query(token, "1"))).status == 200
    assert (await app_message(app_client, queued.id)).status == st.DELIVERED


async def test_an_smsc_rejection_keeps_kannel_type_and_the_smsc_answer(
    app_client: AppClient,
) -> None:
    queued = await unsent(app_client)
    token = (await app_message(app_client, queued.id)).token
    path = f"/sms/kannel/{NAME}/dlr"
    acked = await app_client.get(path, params=dlr_query(token, "8", answer="ACK/"))
    assert (acked.status, await acked.text()) == (200, "")
    after_ack = await app_message(app_client, queued.id)
    assert (after_ack.status, after_ack.error_code, after_ack.error_text) == (st.SENT, "", "")
    answer = "NACK/0x0000000b/Invalid Destination Address"
    rejected = await app_client.get(path, params=dlr_query(token, "16", answer=answer))
    assert rejected.status == 200
    final = await app_message(app_client, queued.id)
    assert (final.status, final.error_code, final.error_text) == (st.FAILED, "kannel-16", answer)


async def test_delivery_reports_for_nobody_or_of_no_known_type(app_client: AppClient) -> None:
    path = f"/sms/kannel/{NAME}/dlr"
    unknown_message = await app_client.get(path, params=dlr_query("f" * 32, "1"))
    unknown_type = await app_client.get(path, params=dlr_query("f" * 32, "3"))
    no_token = await app_client.get(path, params=dlr_query("", "1"))
    other_gateway = await app_client.get("/sms/kannel/other/dlr", params=dlr_query("f" * 32, "1"))
    assert [unknown_message.status, unknown_type.status, no_token.status] == [200, 400, 400]
    assert other_gateway.status == 404


async def test_an_unsubscribe_from_a_phone_opts_out_and_is_confirmed_in_chinese(
    app_rig: AppRig,
) -> None:
    await app_rig.kannel.smsc.send_mo(MOBILE, "10086", "退订")
    # Kannel sends our answer back to the phone, in UCS-2.
    assert await app_rig.kannel.smsc.wait_for(1, TIMEOUT) == [
        MtMessage("10086", MOBILE, 2, f"您已退订{CENTER}的短信。回复START可重新订阅。")
    ]
    assert await app_rig.client.app[keys.SMS].opted_out(MOBILE)


async def test_a_plain_message_is_stored_for_its_customer_and_not_answered(
    app_rig: AppRig,
) -> None:
    sms = app_rig.client.app[keys.SMS]
    customer_id = await add_customer(app_rig.client.app[keys.DB], "Li Wei", MOBILE)
    await app_rig.kannel.smsc.send_mo(MOBILE, "10086", "Running late, 10 min")
    async with asyncio.timeout(TIMEOUT):
        while not (history := await sms.history(customer_id)):
            assert await all_rows(app_rig.client) == [], "stored without its customer"
            await asyncio.sleep(0.02)
    assert [(m.direction, m.phone, m.our_number, m.body, m.gateway, m.status) for m in history] == [
        ("in", MOBILE, "10086", "Running late, 10 min", NAME, st.RECEIVED)
    ]
    # HELP is answered: had the first message been answered, that answer would come first.
    await app_rig.kannel.smsc.send_mo(MOBILE, "10086", "HELP")
    help_text = f"{CENTER}: reply STOP to stop messages, START to receive them again."
    assert await app_rig.kannel.smsc.wait_for(1, TIMEOUT) == [
        MtMessage("10086", MOBILE, 0, help_text)
    ]


async def test_a_repeated_inbound_callback_is_stored_once(app_client: AppClient) -> None:
    path = f"/sms/kannel/{NAME}/mo"
    answers = [
        await app_client.get(path, params=mo_query("Running late, 10 min")),
        await app_client.get(path, params=mo_query("Running late, 10 min")),
        # The same words sent again a minute later are another message.
        await app_client.get(
            path, params=mo_query("Running late, 10 min", time="2026-11-30 09:16:02")
        ),
    ]
    assert [(a.status, a.content_type, await a.text()) for a in answers] == [
        (200, "text/plain", "")
    ] * 3
    stored = await all_rows(app_client)
    assert [(m.direction, m.body) for m in stored] == [("in", "Running late, 10 min")] * 2


async def test_a_forged_inbound_message_is_refused_and_not_stored(app_client: AppClient) -> None:
    path = f"/sms/kannel/{NAME}/mo"
    forged = await app_client.get(path, params=mo_query("退订", key="not-the-token-at-all"))
    keyless = await app_client.get(path, params=mo_query("退订", key=None))
    assert (forged.status, keyless.status) == (403, 403)
    assert not await app_client.app[keys.SMS].opted_out(MOBILE)
    assert await all_rows(app_client) == []


async def test_inbound_text_that_is_not_utf8_is_refused(app_client: AppClient) -> None:
    """Without mo-recode Kannel passes UCS-2 on as it came; stored, a 退订 would go unseen."""
    query = urlencode(
        {**mo_query("", coding="2", charset="UTF-16BE"), "text": "退订".encode("utf-16-be")}
    )
    refused = await app_client.get(f"/sms/kannel/{NAME}/mo?{query}")
    assert refused.status == 400
    assert await all_rows(app_client) == []


async def test_an_unset_webhook_token_refuses_every_callback(start_app: StartApp) -> None:
    client = await start_app(sendsms_url=closed_url(), token="")
    dlr = await client.get(f"/sms/kannel/{NAME}/dlr", params=dlr_query("f" * 32, "1", key=""))
    mo = await client.get(f"/sms/kannel/{NAME}/mo", params=mo_query("退订", key=""))
    assert (dlr.status, mo.status) == (403, 403)
    assert await all_rows(client) == []
