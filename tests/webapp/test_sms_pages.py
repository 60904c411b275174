"""SMS pages over HTTP: send from the card, history, the admins' outbox and its retry, templates."""

from __future__ import annotations

import asyncio

from sqlalchemy import update

from cti import keys
from cti.db.models import SmsMessage
from cti.sms.service import InboundSms
from tests.sms.smstools import app_message
from tests.webapp.test_customers_pages import create
from tests.webtools import AppClient, login

MOBILE = "+14155550100"  # US numbers may be mobile or fixed: both can take a text


async def _wait_for_status(client: AppClient, message_id: int, wanted: str) -> None:
    async with asyncio.timeout(5):
        while True:
            if (await app_message(client, message_id)).status == wanted:
                return
            await asyncio.sleep(0.02)


async def test_an_agent_texts_a_customer_from_the_card_and_sees_it_in_the_history(
    client: AppClient,
) -> None:
    token = await login(client, "agent")
    jane = await create(client, token, name="Jane Roe", phone=MOBILE)
    sent = await client.post(
        f"/customers/{jane}/sms",
        data={"csrf_token": token, "phone": MOBILE, "body": "Your <b>table</b> is ready"},
        allow_redirects=False,
    )
    assert sent.status == 303
    page = await (await client.get(f"/customers/{jane}")).text()
    history = page.split('data-testid="sms-history"')[1]
    assert "Your &lt;b&gt;table&lt;/b&gt; is ready" in history
    assert "<b>table</b>" not in page


async def test_sending_to_a_bad_number_shows_why_on_the_card(client: AppClient) -> None:
    token = await login(client, "agent")
    jane = await create(client, token, name="Jane Roe", phone=MOBILE)
    refused = await client.post(
        f"/customers/{jane}/sms", data={"csrf_token": token, "phone": "12", "body": "hi"}
    )
    assert refused.status == 400
    assert "is not a phone number" in await refused.text()


async def test_sending_needs_the_csrf_token(client: AppClient) -> None:
    token = await login(client, "agent")
    jane = await create(client, token, name="Jane Roe", phone=MOBILE)
    forged = await client.post(f"/customers/{jane}/sms", data={"phone": MOBILE, "body": "hi"})
    assert forged.status == 403


async def test_agents_and_supervisors_cannot_open_the_outbox_or_templates(
    client: AppClient,
) -> None:
    await login(client, "supervisor")
    for path in ("/admin/sms", "/admin/sms/templates"):
        assert (await client.get(path)).status == 403


async def test_admin_sees_a_failed_message_and_retries_it(client: AppClient) -> None:
    token = await login(client, "admin")
    queued = await client.app[keys.SMS].send(MOBILE, "Reminder: tomorrow at 10")
    await _wait_for_status(client, queued.id, "sent")
    async with client.app[keys.DB].begin() as session:
        await session.execute(
            update(SmsMessage)
            .where(SmsMessage.id == queued.id)
            .values(status="failed", error_code="21610", error_text="unsubscribed recipient")
        )
    page = await (await client.get("/admin/sms?status=failed")).text()
    assert "unsubscribed recipient" in page
    assert f'data-id="{queued.id}"' in page
    retried = await client.post(
        f"/admin/sms/{queued.id}/retry", data={"csrf_token": token}, allow_redirects=False
    )
    assert retried.status == 303
    await _wait_for_status(client, queued.id, "sent")
    again = await client.post(f"/admin/sms/{queued.id}/retry", data={"csrf_token": token})
    assert again.status == 400
    assert (await client.get("/admin/sms?status=teleported")).status == 400


async def test_templates_are_checked_previewed_saved_and_used_from_the_card(
    client: AppClient,
) -> None:
    token = await login(client, "admin")
    bad = await client.post(
        "/admin/sms/templates",
        data={"csrf_token": token, "name": "thanks", "body": "Hi {{ balance }}", "action": "save"},
    )
    assert bad.status == 400
    assert "unknown placeholder" in await bad.text()
    preview = await client.post(
        "/admin/sms/templates",
        data={
            "csrf_token": token,
            "name": "thanks",
            "body": "感谢您的来电，{{ name }}！",
            "action": "preview",
        },
    )
    text = await preview.text()
    assert "UCS-2" in text
    assert "1 segment" in text
    saved = await client.post(
        "/admin/sms/templates",
        data={
            "csrf_token": token,
            "name": "thanks",
            "body": "Thank you for calling, {{ salutation }} {{ name }}.",
            "transactional": "yes",
            "action": "save",
        },
        allow_redirects=False,
    )
    assert saved.status == 303
    jane = await create(client, token, name="Jane Roe", salutation="Ms", phone=MOBILE)
    card = await (await client.get(f"/customers/{jane}")).text()
    assert '<option value="thanks">thanks</option>' in card
    sent = await client.post(
        f"/customers/{jane}/sms",
        data={"csrf_token": token, "phone": MOBILE, "template": "thanks", "body": ""},
        allow_redirects=False,
    )
    assert sent.status == 303
    history = await client.app[keys.SMS].history(jane)
    assert [(m.body, m.template) for m in history] == [
        ("Thank you for calling, Ms Jane Roe.", "thanks")
    ]


async def test_a_reply_from_an_unknown_number_shows_in_the_admins_received_list(
    client: AppClient,
) -> None:
    await login(client, "admin")
    inbound = InboundSms("log", "m-1", "+14155550177", "+14155550000", "Who is this? <b>")
    assert await client.app[keys.SMS].receive(inbound) is None
    page = await (await client.get("/admin/sms?status=received")).text()
    assert "+14155550177" in page
    assert "Who is this? &lt;b&gt;" in page
