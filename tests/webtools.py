"""Fixtures for tests that serve cti: a migrated SQLite file, one user per role, and sign-in."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from cti.app import create_app
from cti.config import Config, DatabaseConfig, SmsConfig
from cti.db import migrate, users
from cti.db.engine import create_engine, sessionmaker
from tests.clocks import Clock, midday

PASSWORDS = {"agent": "agent-pass-1", "supervisor": "super-pass-1", "admin": "admin-pass-1"}
AppClient = TestClient[web.Request, web.Application]


async def seed_users(config: DatabaseConfig) -> None:
    engine = create_engine(config)
    await migrate.upgrade(engine)
    async with sessionmaker(engine).begin() as session:
        for role, password in PASSWORDS.items():
            await users.create_user(
                session,
                username=role,
                display_name=f"The {role}",
                role=role,
                password=password,
                devices=["PJSIP/1001"] if role == "agent" else [],
            )
    await engine.dispose()


@pytest.fixture
async def web_config(tmp_path: Path) -> Config:
    database = DatabaseConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    await seed_users(database)
    # The pages' tests run at any hour: quiet hours would hold their messages at night (they are
    # tested with a hand-moved clock in tests/sms).
    return Config(database=database, sms=SmsConfig(quiet_hours=""))


@pytest.fixture
def clock() -> Clock:
    """The served app's wall clock, at mid-day: a test may set it to another instant."""
    return Clock(midday())


@pytest.fixture
async def client(
    aiohttp_client: Callable[[web.Application], Awaitable[AppClient]],
    web_config: Config,
    clock: Clock,
) -> AppClient:
    return await aiohttp_client(create_app(web_config, clock=clock))


@pytest.fixture
def client_factory(
    aiohttp_client: Callable[[web.Application], Awaitable[AppClient]],
    web_config: Config,
    clock: Clock,
) -> Callable[..., Awaitable[AppClient]]:
    """More clients on the same database and clock, with server settings changed."""

    async def make(**server: Any) -> AppClient:
        config = replace(web_config, server=replace(web_config.server, **server))
        return await aiohttp_client(create_app(config, clock=clock))

    return make


def hidden_field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name} in the page"
    return match.group(1)


async def login(client: AppClient, username: str, password: str | None = None) -> str:
    """Sign in through the real form; returns the session's CSRF token."""
    page = await client.get("/login")
    token = hidden_field(await page.text(), "csrf_token")
    response = await client.post(
        "/login",
        data={
            "username": username,
            "password": password or PASSWORDS[username],
            "csrf_token": token,
        },
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
    home = await client.get("/account")
    assert home.status == 200
    return hidden_field(await home.text(), "csrf_token")


async def set_timezone(client: AppClient, csrf_token: str, zone: str) -> None:
    """The signed-in user's time zone, set through their account form."""
    response = await client.post(
        "/account",
        data={"locale": "en", "timezone": zone, "csrf_token": csrf_token},
        allow_redirects=False,
    )
    assert response.status == 303, await response.text()
