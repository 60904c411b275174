"""The SMS peers themselves: Prism checks Twilio requests, Kannel delivers through the fake SMSC."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from cti.sms.twilio_gateway import TwilioHttpClient
from tests.sms.peers import KannelFactory, KannelPeer, MtMessage, PrismPeer

TIMEOUT = 10.0
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
MakeServer = Callable[[web.Application], Awaitable[TestServer]]


async def test_prism_validates_twilio_requests(prism: PrismPeer) -> None:
    # The adapter's own transport, pointed at Prism.
    async with TwilioHttpClient(prism.url) as http:
        send = {"to": "+15005550006", "from_": "+15005550001", "body": "Your appointment is set"}
        async with asyncio.timeout(TIMEOUT):
            message = await Client(ACCOUNT_SID, "token", http_client=http).messages.create_async(
                **send
            )
            assert message.sid.startswith("SM")
            with pytest.raises(TwilioRestException) as rejected:
                await Client("ACnot", "token", http_client=http).messages.create_async(**send)
    assert rejected.value.status == 422


class Recorder:
    """A tiny web server's handler that keeps the query of every request to one path."""

    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []
        self._changed = asyncio.Condition()

    async def handle(self, request: web.Request) -> web.Response:
        async with self._changed:
            self.queries.append(dict(request.query))
            self._changed.notify_all()
        return web.Response(text="")

    async def wait_for(self, count: int) -> list[dict[str, str]]:
        async with asyncio.timeout(TIMEOUT), self._changed:
            await self._changed.wait_for(lambda: len(self.queries) >= count)
        return self.queries


class Rig:
    """Kannel, and the test's own web server taking Kannel's delivery reports and inbound SMS."""

    def __init__(self, kannel: KannelPeer, server: TestServer, dlr: Recorder, mo: Recorder) -> None:
        self.kannel = kannel
        self.server = server
        self.dlr = dlr
        self.mo = mo

    async def sendsms(self, **params: str) -> tuple[int, str]:
        query = {"username": self.kannel.username, "password": self.kannel.password, **params}
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session,
            session.get(self.kannel.sendsms_url, params=query) as response,
        ):
            return response.status, await response.text()


@pytest.fixture
async def rig(aiohttp_server: MakeServer, kannel_factory: KannelFactory) -> Rig:
    dlr, mo = Recorder(), Recorder()
    app = web.Application()
    app.router.add_get("/sms/kannel/dlr", dlr.handle)
    app.router.add_get("/sms/kannel/mo", mo.handle)
    server = await aiohttp_server(app)
    kannel = await kannel_factory(str(server.make_url("/sms/kannel/mo?token=abc")))
    return Rig(kannel, server, dlr, mo)


async def test_kannel_delivers_to_the_fake_smsc_and_reports_delivery(rig: Rig) -> None:
    dlr_url = str(rig.server.make_url("/sms/kannel/dlr")) + "?id=out-17&status=%d&answer=%A"
    status, body = await rig.sendsms(
        to="+8613800138000",
        text="Your appointment is confirmed: 9:30, room 2.",
        **{"dlr-mask": "31", "dlr-url": dlr_url},
    )
    assert (status, body) == (202, "0: Accepted for delivery")
    assert await rig.kannel.smsc.wait_for(1, TIMEOUT) == [
        MtMessage(
            rig.kannel.global_sender,
            "+8613800138000",
            0,
            "Your appointment is confirmed: 9:30, room 2.",
        )
    ]
    reports = await rig.dlr.wait_for(2)
    # The fake SMSC acknowledges (8) and delivers (1) at once; they may arrive in either order.
    assert sorted(report["status"] for report in reports) == ["1", "8"]
    assert {report["id"] for report in reports} == {"out-17"}


async def test_kannel_sends_ucs2_text_unchanged(rig: Rig) -> None:
    status, _ = await rig.sendsms(
        to="+8613800138000", text="您好，预约已确认", coding="2", charset="UTF-8"
    )
    assert status == 202
    (message,) = await rig.kannel.smsc.wait_for(1, TIMEOUT)
    assert (message.coding, message.text) == (2, "您好，预约已确认")


async def test_fake_smsc_joins_long_and_multiline_texts(rig: Rig) -> None:
    sent: list[dict[str, Any]] = [
        {"text": "预约提醒：" * 30, "coding": "2", "charset": "UTF-8"},
        {"text": "Café crème " * 20, "charset": "UTF-8"},
        {"text": "Line one\nLine two"},
    ]
    for params in sent:
        assert (await rig.sendsms(to="+33612345678", **params))[0] == 202
    messages = await rig.kannel.smsc.wait_for(len(sent), TIMEOUT)
    assert [(m.coding, m.text, m.parts) for m in messages] == [
        (2, "预约提醒：" * 30, 3),
        (0, "Café crème " * 20, 2),
        (0, "Line one\nLine two", 1),
    ]


async def test_kannel_forwards_inbound_sms_as_utf8(rig: Rig) -> None:
    await rig.kannel.smsc.send_mo("+8613800138000", "10086", "退订")
    await rig.kannel.smsc.send_mo("+8613800138000", "10086", "STOP now")
    calls = await rig.mo.wait_for(2)
    assert sorted((c["from"], c["to"], c["text"], c["token"]) for c in calls) == [
        ("+8613800138000", "10086", "STOP now", "abc"),
        ("+8613800138000", "10086", "退订", "abc"),
    ]
    assert {(c["smsc"], c["coding"], c["charset"]) for c in calls} == {("FAKE", "0", "UTF-8")}


async def test_kannel_refuses_a_wrong_password(rig: Rig) -> None:
    status, _ = await rig.sendsms(password="wrong", to="+8613800138000", text="hello")
    assert status == 403
    assert rig.kannel.smsc.messages == []
