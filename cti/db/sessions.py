"""Login sessions: random tokens in the cookie, only their SHA-256 in the database."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from cti.db.models import User, WebSession


@dataclass(frozen=True, slots=True)
class ActiveSession:
    token_hash: str
    csrf_token: str
    user: User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def open_session(db: async_sessionmaker[Any], user_id: int, lifetime: timedelta) -> str:
    """Start a session and return the token for the cookie."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    async with db.begin() as session:
        session.add(
            WebSession(
                token_hash=_digest(token),
                user_id=user_id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return token


async def find_session(db: async_sessionmaker[Any], token: str) -> ActiveSession | None:
    now = datetime.now(UTC)
    async with db() as session:
        row = (
            await session.execute(
                select(WebSession, User)
                .join(User, User.id == WebSession.user_id)
                .options(selectinload(User.devices))
                .where(WebSession.token_hash == _digest(token))
            )
        ).first()
    if row is None:
        return None
    web_session, user = row
    if web_session.expires_at <= now or not user.active:
        return None
    return ActiveSession(web_session.token_hash, web_session.csrf_token, user)


async def close_session(db: async_sessionmaker[Any], token_hash: str) -> None:
    async with db.begin() as session:
        await session.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


async def close_user_sessions(session: AsyncSession, user_id: int) -> None:
    """End every session of a user (after a password change or deactivation)."""
    await session.execute(delete(WebSession).where(WebSession.user_id == user_id))


async def purge_expired(db: async_sessionmaker[Any]) -> int:
    async with db.begin() as session:
        result = await session.execute(
            delete(WebSession).where(WebSession.expires_at <= datetime.now(UTC))
        )
    return int(getattr(result, "rowcount", 0) or 0)
