"""SMS templates as admins keep them: one body per name and language, checked before it is saved."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cti.db.models import SmsTemplate
from cti.errors import DomainError
from cti.sms.templates import check


async def find(session: AsyncSession, name: str, language: str) -> SmsTemplate | None:
    """The body for this language, else its base language (zh for zh_Hans), else the default."""
    candidates = [language, language.split("_")[0].split("-")[0], ""]
    rows = {
        row.language: row
        for row in await session.scalars(select(SmsTemplate).where(SmsTemplate.name == name))
    }
    for candidate in candidates:
        if candidate in rows:
            return rows[candidate]
    return None


async def all_templates(session: AsyncSession) -> list[SmsTemplate]:
    return list(
        await session.scalars(select(SmsTemplate).order_by(SmsTemplate.name, SmsTemplate.language))
    )


async def names(session: AsyncSession) -> list[str]:
    return list(
        await session.scalars(select(SmsTemplate.name).distinct().order_by(SmsTemplate.name))
    )


async def save(
    session: AsyncSession, name: str, language: str, body: str, transactional: bool
) -> SmsTemplate:
    name, language = name.strip(), language.strip()
    if not name or len(name) > 80 or not name.replace("-", "").replace("_", "").isalnum():
        raise DomainError("a template name is 1-80 letters, digits, '-' or '_'")
    if len(language) > 16:
        raise DomainError("a language code is at most 16 characters")
    check(body)
    row = await session.scalar(
        select(SmsTemplate).where(SmsTemplate.name == name, SmsTemplate.language == language)
    )
    if row is None:
        row = SmsTemplate(name=name, language=language)
        session.add(row)
    row.body = body.strip()
    row.transactional = transactional
    await session.flush()
    return row


async def remove(session: AsyncSession, template_id: int) -> None:
    await session.execute(delete(SmsTemplate).where(SmsTemplate.id == template_id))
