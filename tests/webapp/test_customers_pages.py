"""Customer pages over HTTP: search in any number format, create from a pop, edit, merge."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from tests.webtools import AppClient, hidden_field, login


async def create(client: AppClient, token: str, **fields: str) -> int:
    response = await client.post(
        "/customers", data={"csrf_token": token, **fields}, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    match = re.fullmatch(r"/customers/(\d+)", response.headers["Location"])
    assert match
    return int(match.group(1))


async def test_create_from_a_pop_then_find_by_any_format(client: AppClient) -> None:
    token = await login(client, "agent")
    form = await client.get("/customers/new?phone=%2B14155550100&name=Jane")
    assert 'value="+14155550100"' in await form.text()
    jane = await create(client, token, name="Jane Roe", phone="+14155550100", salutation="Ms")
    for query in ("(415) 555-0100", "+1 415 555 0100", "4155550100", "jane", "ROE"):
        page = await client.get("/customers", params={"q": query})
        assert f'href="/customers/{jane}"' in await page.text(), query
    none = await client.get("/customers", params={"q": "nobody"})
    assert "No customer matches." in await none.text()


async def test_markup_in_customer_fields_is_shown_as_text(client: AppClient) -> None:
    token = await login(client, "agent")
    evil = await create(
        client, token, name="<script>alert(1)</script>", notes="<img src=x onerror=alert(2)>"
    )
    page = await (await client.get(f"/customers/{evil}")).text()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<img src=x" not in page


async def test_bad_input_gets_a_clear_message_and_changes_nothing(client: AppClient) -> None:
    token = await login(client, "agent")
    bad = await client.post("/customers", data={"csrf_token": token, "name": "X", "phone": "12"})
    assert bad.status == 400
    assert "is not a valid phone number" in await bad.text()
    jane = await create(client, token, name="Jane Roe")
    tz = await client.post(
        f"/customers/{jane}", data={"csrf_token": token, "name": "Jane", "timezone": "Mars/Base"}
    )
    assert tz.status == 400
    assert "time zone &#39;Mars/Base&#39; is unknown" in await tz.text()
    page = await (await client.get(f"/customers/{jane}")).text()
    assert 'data-testid="customer-name">Jane Roe<' in page
    assert (await client.get("/customers/999999")).status == 404
    assert (await client.get("/customers/abc")).status == 404


async def test_edit_add_and_remove_numbers(client: AppClient) -> None:
    token = await login(client, "agent")
    jane = await create(client, token, name="Jane Roe")
    edited = await client.post(
        f"/customers/{jane}",
        data={
            "csrf_token": token,
            "name": "Jane Roe-Park",
            "vip": "yes",
            "tags": "gold, newsletter",
            "preferences": "table: by the window\ndrink: green tea",
        },
        allow_redirects=False,
    )
    assert edited.status == 303
    added = await client.post(
        f"/customers/{jane}/phones",
        data={"csrf_token": token, "phone": "415 555 0177", "label": "work"},
        allow_redirects=False,
    )
    assert added.status == 303
    page = await (await client.get(f"/customers/{jane}")).text()
    assert "Jane Roe-Park" in page
    assert "+14155550177" in page
    assert "drink: green tea" in page
    remove = re.search(rf'action="(/customers/{jane}/phones/\d+/delete)"', page)
    assert remove
    assert (await client.post(remove.group(1), data={"csrf_token": token})).status == 200
    assert "+14155550177" not in await (await client.get(f"/customers/{jane}")).text()


async def test_only_supervisors_merge(
    client: AppClient, client_factory: Callable[..., Awaitable[AppClient]]
) -> None:
    token = await login(client, "agent")
    keep = await create(client, token, name="Jane Roe", phone="+14155550100")
    drop = await create(client, token, name="J. Roe", phone="+14155550199")
    refused = await client.post(
        f"/customers/{keep}/merge", data={"csrf_token": token, "other": str(drop)}
    )
    assert refused.status == 403
    supervisor = await client_factory()
    super_token = await login(supervisor, "supervisor")
    merged = await supervisor.post(
        f"/customers/{keep}/merge",
        data={"csrf_token": super_token, "other": str(drop)},
        allow_redirects=False,
    )
    assert merged.status == 303
    page = await (await supervisor.get(f"/customers/{keep}")).text()
    assert "+14155550199" in page
    assert (await supervisor.get(f"/customers/{drop}")).status == 404


async def test_forms_without_the_csrf_token_are_refused(client: AppClient) -> None:
    await login(client, "agent")
    page = await client.get("/customers/new")
    assert hidden_field(await page.text(), "csrf_token")
    forged = await client.post("/customers", data={"name": "Forged"})
    assert forged.status == 403
