from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from aiohttp import web

from cti.app import create_app
from cti.config import Config
from cti.webapp.policy import policy_of
from tests.webtools import PASSWORDS, AppClient, hidden_field, login


def test_every_route_declares_an_access_policy(web_config: Config) -> None:
    app = create_app(web_config)
    undeclared = [
        route.resource.canonical
        for route in app.router.routes()
        if route.resource is not None
        and not isinstance(route.resource, web.StaticResource)
        and policy_of(route.handler) is None
    ]
    assert undeclared == []


async def test_pages_redirect_to_login_without_a_session(client: AppClient) -> None:
    response = await client.get("/", headers={"Accept": "text/html"}, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == "/login?next=/"


async def test_api_calls_without_a_session_get_401(client: AppClient) -> None:
    response = await client.get("/healthz")
    assert response.status == 401


async def test_wrong_password_is_refused_with_a_clear_message(client: AppClient) -> None:
    page = await client.get("/login")
    token = hidden_field(await page.text(), "csrf_token")
    response = await client.post(
        "/login", data={"username": "agent", "password": "nope-nope", "csrf_token": token}
    )
    assert response.status == 401
    assert "Wrong user name or password." in await response.text()
    assert "cti_session" not in response.cookies


async def test_login_without_the_form_token_is_refused(client: AppClient) -> None:
    response = await client.post(
        "/login", data={"username": "agent", "password": PASSWORDS["agent"]}
    )
    assert response.status == 403
    assert "cti_session" not in response.cookies


async def test_session_cookie_is_http_only_and_same_site(client: AppClient) -> None:
    page = await client.get("/login")
    token = hidden_field(await page.text(), "csrf_token")
    response = await client.post(
        "/login",
        data={"username": "agent", "password": PASSWORDS["agent"], "csrf_token": token},
        allow_redirects=False,
    )
    cookie = response.cookies["cti_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]


async def test_session_cookie_is_secure_behind_https(
    client_factory: Callable[..., Awaitable[AppClient]],
) -> None:
    client = await client_factory(public_url="https://cti.example")
    page = await client.get("/login")
    login_cookie = page.cookies["cti_login_csrf"]
    assert login_cookie["secure"] is True
    token = hidden_field(await page.text(), "csrf_token")
    # The test client speaks plain HTTP and so withholds secure cookies; a TLS proxy would not.
    response = await client.post(
        "/login",
        data={"username": "agent", "password": PASSWORDS["agent"], "csrf_token": token},
        headers={"Cookie": f"cti_login_csrf={login_cookie.value}"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.cookies["cti_session"]["secure"] is True


async def test_login_refuses_to_redirect_off_site(client: AppClient) -> None:
    page = await client.get("/login?next=//evil.example/")
    token = hidden_field(await page.text(), "csrf_token")
    response = await client.post(
        "/login",
        data={
            "username": "agent",
            "password": PASSWORDS["agent"],
            "csrf_token": token,
            "next": "//evil.example/",
        },
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/"


async def test_state_change_without_csrf_token_is_refused(client: AppClient) -> None:
    await login(client, "agent")
    response = await client.post("/account", data={"locale": "zh_Hans", "timezone": "UTC"})
    assert response.status == 403
    page = await client.get("/account")
    assert 'value="en" selected' in await page.text()


async def test_state_change_with_csrf_token_applies(client: AppClient) -> None:
    csrf = await login(client, "agent")
    response = await client.post(
        "/account", data={"locale": "zh_Hans", "timezone": "Asia/Shanghai", "csrf_token": csrf}
    )
    assert response.status == 200
    page = await response.text()
    assert "你的账户" in page
    assert 'value="Asia/Shanghai" selected' in page


async def test_csrf_token_in_header_is_accepted(client: AppClient) -> None:
    csrf = await login(client, "agent")
    response = await client.post(
        "/account",
        data={"locale": "en", "timezone": "Europe/Paris"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status == 200


@pytest.mark.parametrize(("role", "status"), [("agent", 403), ("supervisor", 200), ("admin", 200)])
async def test_health_needs_a_supervisor(client: AppClient, role: str, status: int) -> None:
    await login(client, role)
    response = await client.get("/healthz")
    assert response.status == status


async def test_metrics_accept_the_configured_bearer_token(
    client_factory: Callable[..., Awaitable[AppClient]],
) -> None:
    from cti.config import Secret

    client = await client_factory(metrics_token=Secret("scrape-me"))
    assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
    response = await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})
    assert response.status == 200
    assert "# TYPE" in await response.text()


async def test_logout_ends_the_session(client: AppClient) -> None:
    csrf = await login(client, "agent")
    response = await client.post("/logout", data={"csrf_token": csrf}, allow_redirects=False)
    assert response.status == 303
    after = await client.get("/account", headers={"Accept": "text/html"}, allow_redirects=False)
    assert after.status == 303


async def test_pages_carry_a_strict_content_security_policy(client: AppClient) -> None:
    response = await client.get("/login")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


async def test_repeated_failures_are_throttled(client: AppClient) -> None:
    for _ in range(5):
        page = await client.get("/login")
        token = hidden_field(await page.text(), "csrf_token")
        await client.post(
            "/login", data={"username": "agent", "password": "x" * 9, "csrf_token": token}
        )
    page = await client.get("/login")
    token = hidden_field(await page.text(), "csrf_token")
    response = await client.post(
        "/login", data={"username": "agent", "password": PASSWORDS["agent"], "csrf_token": token}
    )
    assert response.status == 429
