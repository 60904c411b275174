"""Who may call a handler. Every route declares a policy; a route without one is refused."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import IntEnum
from typing import Final, TypeVar

from aiohttp import web

from cti.i18n import N_

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

POLICY_ATTR: Final = "cti_policy"


class Role(IntEnum):
    """Roles in rising order: each role may do what the roles below it may."""

    AGENT = 1
    SUPERVISOR = 2
    ADMIN = 3

    @classmethod
    def parse(cls, value: str) -> Role:
        return cls[value.upper()]

    @property
    def label(self) -> str:
        return self.name.lower()


class Public:
    """Reachable without a session (the login page)."""


class Webhook:
    """Called by an outside system (an SMS gateway), never by a browser: no session and no CSRF
    token; the handler must verify the caller's signature or shared token before anything else."""


class ProbeOrRole:
    """A monitoring endpoint: the configured bearer token, or a session of at least `role`."""

    def __init__(self, role: Role) -> None:
        self.role = role


ROLE_LABELS: Final = (N_("agent"), N_("supervisor"), N_("admin"))

Policy = Role | Public | ProbeOrRole | Webhook
PUBLIC: Final = Public()
WEBHOOK: Final = Webhook()


def requires(policy: Policy) -> Callable[[H], H]:
    def mark(handler: H) -> H:
        setattr(handler, POLICY_ATTR, policy)
        return handler

    return mark


def policy_of(handler: object) -> Policy | None:
    found = getattr(handler, POLICY_ATTR, None)
    return found if isinstance(found, Role | Public | ProbeOrRole | Webhook) else None
