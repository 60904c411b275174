"""Users: creation with validation, password changes, listing and authentication."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from cti import passwords
from cti.core.hours import is_time_zone
from cti.db.models import User, UserDevice
from cti.errors import ConflictError, DomainError, NotFoundError
from cti.i18n import LOCALES

ROLES: Final = ("agent", "supervisor", "admin")
_USERNAME: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_INTERFACE: Final = re.compile(r"[A-Za-z0-9_]+/[^\s/,]+")


def _validated(
    username: str, role: str, locale: str, timezone: str, devices: Iterable[str]
) -> list[str]:
    if not _USERNAME.fullmatch(username):
        raise DomainError(
            f"user name {username!r} is invalid: "
            "use 1-64 lower-case letters, digits, '.', '_' or '-'"
        )
    if role not in ROLES:
        raise DomainError(f"role {role!r} is unknown: choose one of {', '.join(ROLES)}")
    if locale not in LOCALES:
        raise DomainError(f"language {locale!r} is not offered: choose one of {', '.join(LOCALES)}")
    if not is_time_zone(timezone):
        raise DomainError(f"time zone {timezone!r} is unknown (expected e.g. Europe/Paris)")
    interfaces = [d.strip() for d in devices if d.strip()]
    for interface in interfaces:
        if not _INTERFACE.fullmatch(interface):
            raise DomainError(f"device {interface!r} is not an interface such as PJSIP/1001")
    return interfaces


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    display_name: str,
    role: str,
    password: str,
    locale: str = "en",
    timezone: str = "UTC",
    devices: Sequence[str] = (),
    pbx: str = "",
) -> User:
    interfaces = _validated(username, role, locale, timezone, devices)
    if await session.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(f"a user named {username!r} already exists")
    taken = await session.scalar(
        select(UserDevice.interface).where(
            UserDevice.interface.in_(interfaces), UserDevice.pbx == pbx
        )
    )
    if taken is not None:
        raise ConflictError(f"device {taken} already belongs to another user")
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=passwords.hash_password(password),
        locale=locale,
        timezone=timezone,
        devices=[UserDevice(pbx=pbx, interface=i) for i in interfaces],
    )
    session.add(user)
    await session.flush()
    return user


async def set_password(session: AsyncSession, username: str, password: str) -> None:
    user = await session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"no user named {username!r}")
    user.password_hash = passwords.hash_password(password)


async def list_users(session: AsyncSession) -> Sequence[User]:
    result = await session.scalars(
        select(User).options(selectinload(User.devices)).order_by(User.username)
    )
    return result.all()


async def authenticate(session: AsyncSession, username: str, password: str) -> User | None:
    """The active user with these credentials, or None; upgrades an outdated hash in passing."""
    user = await session.scalar(
        select(User).where(User.username == username.strip().lower(), User.active.is_(True))
    )
    if not passwords.verify(user.password_hash if user else None, password) or user is None:
        return None
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


async def sync_devices(
    session: AsyncSession, agents: Mapping[str, Sequence[str]], pbx: str = ""
) -> list[str]:
    """Make each configured user's devices those of the `[agents]` table; returns unknown names."""
    unknown: list[str] = []
    for username, devices in agents.items():
        user_id = await session.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            unknown.append(username)
            continue
        await session.execute(delete(UserDevice).where(UserDevice.user_id == user_id))
        session.add_all(UserDevice(user_id=user_id, pbx=pbx, interface=d) for d in devices)
    await session.flush()
    return unknown
