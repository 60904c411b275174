"""The audit trail seen from a request: who is acting, from where, at the service's "now"."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from cti import audit, keys
from cti.audit import Action, Actor
from cti.webapp.security import optional_session


def client_address(request: web.Request) -> str:
    """The address the request came from."""
    return request.remote or ""


def actor_of(request: web.Request, username: str = "") -> Actor:
    """The signed-in user, or (before sign-in) the name that was typed."""
    session = optional_session(request)
    if session is not None:
        return Actor(session.user.id, session.user.username, client_address(request))
    return Actor(None, username, client_address(request))


def audit_in(session: AsyncSession, request: web.Request, action: Action, **fields: Any) -> None:
    """A line for a change, in the transaction that makes the change."""
    audit.add(session, actor_of(request), action, request.app[keys.CLOCK](), **fields)


async def audit_now(request: web.Request, action: Action, **fields: Any) -> None:
    """A line of its own: a view, an export, a sign-in."""
    await audit.record(
        request.app[keys.DB], actor_of(request), action, request.app[keys.CLOCK](), **fields
    )
