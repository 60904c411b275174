"""Users on both databases: validation, duplicates, passwords and authentication."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from cti.db import users
from cti.db.models import User, UserDevice
from cti.errors import ConflictError, DomainError, NotFoundError


async def add(db: async_sessionmaker[Any], username: str = "alice", **extra: Any) -> None:
    fields: dict[str, Any] = {
        "display_name": "Alice",
        "role": "agent",
        "password": "correct horse",
        "devices": ["PJSIP/1001"],
    }
    fields.update(extra)
    async with db.begin() as session:
        await users.create_user(session, username=username, **fields)


async def test_create_then_authenticate(db: async_sessionmaker[Any]) -> None:
    await add(db)
    async with db() as session:
        user = await users.authenticate(session, "alice", "correct horse")
        assert user is not None
        assert user.password_hash.startswith("$argon2id$")
        assert "correct horse" not in user.password_hash
        assert await users.authenticate(session, "alice", "wrong horse") is None
        assert await users.authenticate(session, "nobody", "correct horse") is None
        listed = await users.list_users(session)
    assert [(u.username, [d.interface for d in u.devices]) for u in listed] == [
        ("alice", ["PJSIP/1001"])
    ]


async def test_duplicate_username_is_refused_and_changes_nothing(
    db: async_sessionmaker[Any],
) -> None:
    await add(db)
    with pytest.raises(ConflictError, match="'alice' already exists"):
        await add(db, display_name="Other Alice", devices=["PJSIP/1009"])
    async with db() as session:
        names = (await session.scalars(select(User.display_name))).all()
        devices = (await session.scalars(select(UserDevice.interface))).all()
    assert names == ["Alice"]
    assert devices == ["PJSIP/1001"]


async def test_a_device_belongs_to_one_user(db: async_sessionmaker[Any]) -> None:
    await add(db)
    with pytest.raises(ConflictError, match="PJSIP/1001 already belongs"):
        await add(db, "bob")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"username": "Bad Name"}, "user name 'Bad Name' is invalid"),
        ({"role": "boss"}, "role 'boss' is unknown"),
        ({"password": "short"}, "at least 10 characters"),
        ({"locale": "xx"}, "language 'xx' is not offered"),
        ({"timezone": "Mars/Olympus"}, "time zone 'Mars/Olympus' is unknown"),
        ({"devices": ["1001"]}, "device '1001' is not an interface"),
    ],
)
async def test_invalid_users_are_refused_with_a_reason(
    db: async_sessionmaker[Any], extra: dict[str, Any], message: str
) -> None:
    fields = dict(extra)
    username = fields.pop("username", "carol")
    with pytest.raises(DomainError, match=message):
        await add(db, username, **fields)
    async with db() as session:
        assert (await session.scalars(select(User))).all() == []


async def test_set_password_replaces_the_old_one(db: async_sessionmaker[Any]) -> None:
    await add(db)
    async with db.begin() as session:
        await users.set_password(session, "alice", "a new passphrase")
    async with db() as session:
        assert await users.authenticate(session, "alice", "correct horse") is None
        assert await users.authenticate(session, "alice", "a new passphrase") is not None
    with pytest.raises(NotFoundError):
        async with db.begin() as session:
            await users.set_password(session, "nobody", "a new passphrase")


async def test_sync_devices_follows_the_agents_table(db: async_sessionmaker[Any]) -> None:
    await add(db)
    async with db.begin() as session:
        unknown = await users.sync_devices(
            session, {"alice": ["PJSIP/2001", "SIP/2001"], "ghost": ["PJSIP/9"]}
        )
    assert unknown == ["ghost"]
    async with db() as session:
        devices = sorted((await session.scalars(select(UserDevice.interface))).all())
    assert devices == ["PJSIP/2001", "SIP/2001"]
