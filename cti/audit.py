"""The audit trail's vocabulary and its one way in: who did what to which object, and when.

Rows are only ever inserted (see AuditEntry). A change is written in the transaction that makes
it, so no change can land without its line; a view or a sign-in writes its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.db.models import AuditEntry


class Action(StrEnum):
    SIGN_IN = "sign-in"
    SIGN_IN_FAILED = "sign-in-failed"
    SIGN_OUT = "sign-out"
    PASSWORD_CHANGE = "password-change"
    USER_CREATE = "user-create"
    USER_ROLE = "user-role"
    USER_PASSWORD_RESET = "user-password-reset"
    USER_DEACTIVATE = "user-deactivate"
    USER_ACTIVATE = "user-activate"
    CUSTOMER_VIEW = "customer-view"
    CUSTOMER_POP = "customer-pop"
    CUSTOMER_CREATE = "customer-create"
    CUSTOMER_EDIT = "customer-edit"
    CUSTOMER_NUMBERS = "customer-numbers"
    CUSTOMER_MERGE = "customer-merge"
    CUSTOMER_IMPORT = "customer-import"
    CUSTOMER_EXPORT = "customer-export"
    CALL_WRAPUP = "call-wrapup"
    CALLS_EXPORT = "calls-export"
    REPORT_EXPORT = "report-export"
    AUDIT_EXPORT = "audit-export"
    SMS_SEND = "sms-send"
    SMS_RETRY = "sms-retry"
    SMS_TEMPLATE_SAVE = "sms-template-save"
    SMS_TEMPLATE_DELETE = "sms-template-delete"
    PBX_PAUSE = "pbx-pause"
    PBX_UNPAUSE = "pbx-unpause"
    PBX_MEMBER_ADD = "pbx-member-add"
    PBX_MEMBER_REMOVE = "pbx-member-remove"
    PBX_DIAL = "pbx-dial"


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acted: a signed-in user, or nobody yet (a failed sign-in), from which address."""

    user_id: int | None
    username: str
    address: str


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that differ, as {"before": {...}, "after": {...}} (empty when none do)."""
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    if not changed:
        return {}
    return {
        "before": {k: before.get(k) for k in changed},
        "after": {k: after.get(k) for k in changed},
    }


def add(
    session: AsyncSession,
    actor: Actor,
    action: Action,
    at: datetime,
    *,
    object_type: str = "",
    object_id: str | int = "",
    customer_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Write one line in the caller's transaction (it lands with the change, or not at all)."""
    session.add(
        AuditEntry(
            at=at,
            user_id=actor.user_id,
            username=actor.username[:64],
            address=actor.address[:64],
            action=str(action),
            object_type=object_type,
            object_id=str(object_id)[:64],
            customer_id=customer_id,
            detail=dict(detail) if detail else None,
        )
    )


async def record(
    db: async_sessionmaker[Any],
    actor: Actor,
    action: Action,
    at: datetime,
    **fields: Any,
) -> None:
    """Write one line in a transaction of its own (views, sign-ins, exports)."""
    async with db.begin() as session:
        add(session, actor, action, at, **fields)
