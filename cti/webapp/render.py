"""Jinja2 pages: autoescaped, translated per user, dates and numbers in the user's locale."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from cti import keys
from cti.i18n import LOCALE_NAMES, LocaleText
from cti.webapp.policy import Role
from cti.webapp.security import optional_session


def asset_root() -> Path:
    """web/ in a source checkout, cti/_web in an installed wheel."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_web"
    return installed if installed.is_dir() else package.parent / "web"


def create_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(asset_root() / "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
        enable_async=False,
    )
    env.filters["datetime"] = _format_datetime
    env.filters["number"] = _format_number
    env.filters["percent"] = _format_percent
    return env


def locale_text(request: web.Request) -> LocaleText:
    session = optional_session(request)
    config = request.app[keys.CONFIG]
    locale = (
        session.user.locale if session else _accept_language(request, config.server.default_locale)
    )
    return request.app[keys.TRANSLATIONS].for_locale(locale)


def user_timezone(request: web.Request) -> str:
    session = optional_session(request)
    return session.user.timezone if session else request.app[keys.CONFIG].hours.timezone


def user_today(request: web.Request) -> date:
    """Today in the viewer's time zone, by the service's clock."""
    return request.app[keys.CLOCK]().astimezone(ZoneInfo(user_timezone(request))).date()


async def render(
    request: web.Request, template: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    text = locale_text(request)
    session = optional_session(request)
    page: dict[str, Any] = {
        "request": request,
        "user": session.user if session else None,
        "role": Role.parse(session.user.role) if session else None,
        "Role": Role,
        "csrf_token": session.csrf_token if session else "",
        "locale": text.locale,
        "locale_names": LOCALE_NAMES,
        "text": text,
        "tz": user_timezone(request),
        "gettext": text.gettext,
        "ngettext": text.ngettext,
        "_": text.gettext,
    }
    page.update(context)
    body = request.app[keys.TEMPLATES].get_template(template).render(page)
    return web.Response(text=body, status=status, content_type="text/html", charset="utf-8")


def _accept_language(request: web.Request, default: str) -> str:
    header = request.headers.get("Accept-Language", "").lower()
    return "zh_Hans" if header.startswith("zh") else default


@jinja2.pass_context
def _format_datetime(
    ctx: jinja2.runtime.Context, value: datetime | None, fmt: str = "medium"
) -> str:
    if value is None:
        return ""
    text: LocaleText = ctx["text"]
    return text.datetime(value, ctx["tz"], fmt)


@jinja2.pass_context
def _format_number(ctx: jinja2.runtime.Context, value: float | None, digits: int = 0) -> str:
    if value is None:
        return ""
    text: LocaleText = ctx["text"]
    return text.number(value, digits)


@jinja2.pass_context
def _format_percent(ctx: jinja2.runtime.Context, value: float | None) -> str:
    if value is None:
        return ""
    text: LocaleText = ctx["text"]
    return text.percent(value)
