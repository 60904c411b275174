"""The home page and the user's own account settings (language and time zone)."""

from __future__ import annotations

from zoneinfo import available_timezones

from aiohttp import web
from sqlalchemy import update

from cti import keys
from cti.db.models import User
from cti.i18n import LOCALES
from cti.webapp.policy import Role, requires
from cti.webapp.render import locale_text, render
from cti.webapp.security import current_session
from cti.webapp.tiles import collect

_ZONES = sorted(available_timezones())


@requires(Role.AGENT)
async def home(request: web.Request) -> web.StreamResponse:
    return await render(
        request, "home.html", {"now": request.app[keys.CLOCK](), "tiles": await collect(request)}
    )


@requires(Role.AGENT)
async def account_page(request: web.Request) -> web.StreamResponse:
    return await render(request, "account.html", {"zones": _ZONES, "saved": False, "error": ""})


@requires(Role.AGENT)
async def account_save(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    locale = str(form.get("locale", ""))
    zone = str(form.get("timezone", ""))
    if locale not in LOCALES or zone not in _ZONES:
        error = locale_text(request).gettext("Choose a language and a time zone from the lists.")
        context = {"zones": _ZONES, "saved": False, "error": error}
        return await render(request, "account.html", context, status=400)
    user = current_session(request).user
    async with request.app[keys.DB].begin() as session:
        await session.execute(
            update(User).where(User.id == user.id).values(locale=locale, timezone=zone)
        )
    raise web.HTTPSeeOther(location=str(request.app.router["account"].url_for()))


def setup(app: web.Application) -> None:
    app.router.add_get("/", home, name="home")
    app.router.add_get("/account", account_page, name="account")
    app.router.add_post("/account", account_save)
