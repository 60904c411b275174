"""What admins change about users reaches the running service at once; stale sessions go."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy import select

from cti import keys
from cti.app import create_app
from cti.config import Config
from cti.db.engine import create_engine, sessionmaker
from cti.db.models import User, WebSession
from tests.webtools import AppClient, login


async def test_a_new_users_phone_pops_for_them_without_a_restart(client: AppClient) -> None:
    token = await login(client, "admin")
    assert client.app[keys.DIRECTORY].people("", ["PJSIP/1077"]) == []
    created = await client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "nina",
            "display_name": "Nina",
            "role": "agent",
            "password": "long enough password",
            "locale": "en",
            "timezone": "UTC",
            "devices": "PJSIP/1077",
        },
        allow_redirects=False,
    )
    assert created.status == 303
    (nina,) = client.app[keys.DIRECTORY].people("", ["PJSIP/1077"])
    assert nina.username == "nina"
    off = await client.post(
        "/admin/users/nina/active", data={"csrf_token": token, "active": "0"}, allow_redirects=False
    )
    assert off.status == 303
    assert client.app[keys.DIRECTORY].people("", ["PJSIP/1077"]) == []


async def test_expired_sessions_are_removed_at_start(
    web_config: Config, aiohttp_client: Callable[[web.Application], Awaitable[AppClient]]
) -> None:
    engine = create_engine(web_config.database)
    async with sessionmaker(engine).begin() as session:
        user_id = await session.scalar(select(User.id).where(User.username == "agent"))
        assert user_id is not None
        past = datetime.now(UTC) - timedelta(days=2)
        session.add(
            WebSession(
                token_hash="x" * 64,
                user_id=user_id,
                csrf_token="c",
                created_at=past,
                expires_at=past + timedelta(hours=1),
            )
        )
    await aiohttp_client(create_app(web_config))
    async with sessionmaker(engine)() as session:
        assert (await session.scalars(select(WebSession))).all() == []
    await engine.dispose()
