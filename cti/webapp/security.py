"""Sessions, role checks, CSRF and security headers, as aiohttp middlewares.

Fail closed: a route that declares no policy is refused, a state-changing request without the
session's CSRF token is refused, and only the login page is reachable without a session.
"""

from __future__ import annotations

import hmac
import logging
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from cti import keys
from cti.db.sessions import ActiveSession, find_session
from cti.webapp.policy import ProbeOrRole, Public, Role, Webhook, policy_of

logger = logging.getLogger(__name__)

SESSION_COOKIE: Final = "cti_session"
LOGIN_CSRF_COOKIE: Final = "cti_login_csrf"
CSRF_FIELD: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_KEY: Final = web.RequestKey("session", ActiveSession)

CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


class AccessDenied(web.HTTPForbidden):
    pass


def current_session(request: web.Request) -> ActiveSession:
    """The caller's session; handlers behind a role policy can rely on it being there."""
    return request[SESSION_KEY]


def optional_session(request: web.Request) -> ActiveSession | None:
    return request.get(SESSION_KEY)


def user_role(session: ActiveSession) -> Role:
    return Role.parse(session.user.role)


def sees_withheld(request: web.Request) -> bool:
    """Whether the signed-in user's role may see who a caller that withheld their number is."""
    return request.app[keys.CONFIG].privacy.shows_withheld(current_session(request).user.role)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        request.app[keys.METRICS].inc("cti_http_requests_total", status=str(exc.status))
        raise
    request.app[keys.METRICS].inc("cti_http_requests_total", status=str(response.status))
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if request.app[keys.CONFIG].server.https:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


@web.middleware
async def access_control(request: web.Request, handler: Handler) -> web.StreamResponse:
    resource = request.match_info.route.resource
    if isinstance(resource, web.StaticResource):
        return await handler(request)
    if request.match_info.http_exception is not None:
        # Unknown URL or method: answer 404/405 only to a signed-in user, else send to login.
        if await _load_session(request) is None:
            raise _to_login(request)
        return await handler(request)
    policy = policy_of(request.match_info.handler)
    if policy is None:
        logger.error("route %s declares no access policy; refused", request.path)
        raise AccessDenied(text="This route declares no access policy.")
    if isinstance(policy, Public):
        await _load_session(request)
        return await handler(request)
    if isinstance(policy, Webhook):
        return await handler(request)
    if isinstance(policy, ProbeOrRole) and _bearer_ok(request):
        return await handler(request)
    session = await _load_session(request)
    if session is None:
        raise _to_login(request)
    needed = policy.role if isinstance(policy, ProbeOrRole) else policy
    if user_role(session) < needed:
        raise AccessDenied(text="Your role does not allow this.")
    if request.method not in SAFE_METHODS:
        await _check_csrf(request, session.csrf_token)
    return await handler(request)


async def _load_session(request: web.Request) -> ActiveSession | None:
    if SESSION_KEY in request:
        return request[SESSION_KEY]
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    session = await find_session(request.app[keys.DB], token)
    if session is not None:
        request[SESSION_KEY] = session
    return session


async def _check_csrf(request: web.Request, expected: str) -> None:
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        form = await request.post()
        value = form.get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    if not supplied or not hmac.compare_digest(supplied, expected):
        raise AccessDenied(text="The form has expired or did not come from this site; reload it.")


def check_origin(request: web.Request) -> None:
    """A WebSocket carries the session cookie but no CSRF token: refuse other sites' pages."""
    origin = request.headers.get("Origin", "")
    allowed = {f"{request.scheme}://{request.host}"}
    public_url = request.app[keys.CONFIG].server.public_url
    if public_url:
        allowed.add(public_url.rstrip("/"))
    if origin not in allowed:
        raise AccessDenied(text="This socket may only be opened by cti's own pages.")


def _bearer_ok(request: web.Request) -> bool:
    token = request.app[keys.CONFIG].server.metrics_token.reveal()
    header = request.headers.get("Authorization", "")
    return bool(token) and hmac.compare_digest(header, f"Bearer {token}")


def _to_login(request: web.Request) -> web.HTTPException:
    wants_html = "text/html" in request.headers.get("Accept", "") and request.method == "GET"
    if wants_html:
        target = request.rel_url.path_qs
        return web.HTTPSeeOther(
            location=str(request.app.router["login"].url_for().with_query(next=target))
        )
    return web.HTTPUnauthorized(text="Sign in first.")
