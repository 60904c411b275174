"""Sign in and out. The login form is protected by a double-submit cookie, since there is no
session yet to hold its CSRF token; failed attempts are slowed per user name and address."""

from __future__ import annotations

import hmac
import secrets
import time
from collections import defaultdict, deque
from datetime import timedelta
from typing import Final

from aiohttp import web

from cti import keys
from cti.db import users
from cti.db.sessions import close_session, open_session
from cti.webapp.policy import PUBLIC, Role, requires
from cti.webapp.render import locale_text, render
from cti.webapp.security import (
    CSRF_FIELD,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    current_session,
    optional_session,
)

MAX_FAILURES: Final = 5
FAILURE_WINDOW: Final = 300.0
FAILURES = web.AppKey("login_failures", dict[str, deque[float]])


def _safe_next(target: str | None) -> str:
    """Only same-site paths: an open redirect would let a phishing link borrow our login page."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def _cookie_flags(request: web.Request) -> dict[str, object]:
    return {
        "httponly": True,
        "samesite": "Lax",
        "secure": request.app[keys.CONFIG].server.https,
        "path": "/",
    }


@requires(PUBLIC)
async def login_page(request: web.Request) -> web.StreamResponse:
    if optional_session(request) is not None:
        raise web.HTTPSeeOther(location=_safe_next(request.query.get("next")))
    return await _login_form(request, error="", status=200)


async def _login_form(request: web.Request, error: str, status: int) -> web.Response:
    token = secrets.token_urlsafe(24)
    response = await render(
        request,
        "login.html",
        {"login_csrf": token, "error": error, "next": _safe_next(request.query.get("next"))},
        status=status,
    )
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, **_cookie_flags(request))  # type: ignore[arg-type]
    return response


@requires(PUBLIC)
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    text = locale_text(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    supplied = str(form.get(CSRF_FIELD, ""))
    if not cookie or not hmac.compare_digest(cookie, supplied):
        return await _login_form(
            request, text.gettext("The form has expired. Please sign in again."), 403
        )
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    throttle_key = f"{username.lower()}|{request.remote}"
    failures = request.app[FAILURES][throttle_key]
    now = time.monotonic()
    while failures and now - failures[0] > FAILURE_WINDOW:
        failures.popleft()
    if len(failures) >= MAX_FAILURES:
        return await _login_form(
            request, text.gettext("Too many failed attempts. Wait a few minutes."), 429
        )
    async with request.app[keys.DB]() as session:
        user = await users.authenticate(session, username, password)
        if user is not None:
            await session.commit()
    if user is None:
        failures.append(now)
        return await _login_form(request, text.gettext("Wrong user name or password."), 401)
    failures.clear()
    hours = request.app[keys.CONFIG].server.session_hours
    token = await open_session(request.app[keys.DB], user.id, timedelta(hours=hours))
    response = web.Response(
        status=303, headers={"Location": _safe_next(str(form.get("next", "")) or None)}
    )
    response.set_cookie(SESSION_COOKIE, token, max_age=int(hours * 3600), **_cookie_flags(request))  # type: ignore[arg-type]
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@requires(Role.AGENT)
async def logout(request: web.Request) -> web.StreamResponse:
    await close_session(request.app[keys.DB], current_session(request).token_hash)
    response = web.Response(
        status=303, headers={"Location": str(request.app.router["login"].url_for())}
    )
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def setup(app: web.Application) -> None:
    app[FAILURES] = defaultdict[str, deque[float]](deque)
    app.router.add_get("/login", login_page, name="login")
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout, name="logout")
