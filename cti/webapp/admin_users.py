"""Admin pages for users: list, create, reset a password, (de)activate."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select, update

from cti import keys
from cti.db import users
from cti.db.models import User
from cti.db.sessions import close_user_sessions
from cti.errors import DomainError, NotFoundError
from cti.i18n import LOCALES
from cti.webapp.policy import Role, requires
from cti.webapp.render import locale_text, render
from cti.webapp.security import current_session


async def _listing(request: web.Request, error: str = "", status: int = 200) -> web.Response:
    async with request.app[keys.DB]() as session:
        rows = await users.list_users(session)
    context = {"users": rows, "error": error, "roles": [r.label for r in Role], "locales": LOCALES}
    return await render(request, "admin_users.html", context, status=status)


@requires(Role.ADMIN)
async def users_page(request: web.Request) -> web.StreamResponse:
    return await _listing(request)


@requires(Role.ADMIN)
async def user_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    devices = [d.strip() for d in str(form.get("devices", "")).split(",") if d.strip()]
    try:
        async with request.app[keys.DB].begin() as session:
            await users.create_user(
                session,
                username=str(form.get("username", "")).strip(),
                display_name=str(form.get("display_name", "")).strip(),
                role=str(form.get("role", "")),
                password=str(form.get("password", "")),
                locale=str(form.get("locale", "en")),
                timezone=str(form.get("timezone", "UTC")).strip() or "UTC",
                devices=devices,
            )
    except DomainError as error:
        return await _listing(request, str(error), status=400)
    # Pops find users through their devices: a new user's phone must ring them from now on.
    await request.app[keys.DIRECTORY].load(request.app[keys.DB])
    raise web.HTTPSeeOther(location=str(request.app.router["admin-users"].url_for()))


@requires(Role.ADMIN)
async def user_password(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = request.match_info["username"]
    try:
        async with request.app[keys.DB].begin() as session:
            await users.set_password(session, username, str(form.get("password", "")))
    except DomainError as error:
        return await _listing(request, str(error), status=400)
    raise web.HTTPSeeOther(location=str(request.app.router["admin-users"].url_for()))


@requires(Role.ADMIN)
async def user_active(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = request.match_info["username"]
    active = form.get("active") == "1"
    if not active and username == current_session(request).user.username:
        text = locale_text(request)
        return await _listing(request, text.gettext("You cannot deactivate yourself."), 400)
    async with request.app[keys.DB].begin() as session:
        user_id = await session.scalar(select(User.id).where(User.username == username))
        if user_id is None:
            raise NotFoundError(f"no user named {username!r}")
        await session.execute(update(User).where(User.id == user_id).values(active=active))
        if not active:
            await close_user_sessions(session, user_id)
    await request.app[keys.DIRECTORY].load(request.app[keys.DB])
    raise web.HTTPSeeOther(location=str(request.app.router["admin-users"].url_for()))


def setup(app: web.Application) -> None:
    app.router.add_get("/admin/users", users_page, name="admin-users")
    app.router.add_post("/admin/users", user_create)
    app.router.add_post("/admin/users/{username}/password", user_password)
    app.router.add_post("/admin/users/{username}/active", user_active)
