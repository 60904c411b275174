"""Map cti errors to HTTP: JSON {error_id, message, details} for API calls, a page for browsers."""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Handler

from cti.errors import AmiError, AuthError, ConflictError, CtiError, DomainError, NotFoundError
from cti.webapp.render import render

logger = logging.getLogger(__name__)

STATUS: Final[dict[type[CtiError], int]] = {
    # The PBX refused or could not be reached: the request was fine, the gateway was not.
    AmiError: 502,
    NotFoundError: 404,
    ConflictError: 409,
    AuthError: 403,
    DomainError: 400,
}


def status_for(error: CtiError) -> int:
    for kind, status in STATUS.items():
        if isinstance(error, kind):
            return status
    return 500


def wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or (
        "application/json" in accept and "text/html" not in accept
    )


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400 or not wants_json(request):
            raise
        # API callers get the same JSON body for a refusal as for any other error.
        error_id = {401: "not-signed-in", 403: "not-authorised", 404: "not-found"}.get(
            error.status, f"http-{error.status}"
        )
        body = {"error_id": error_id, "message": error.text or error.reason, "details": {}}
        return web.json_response(body, status=error.status)
    except CtiError as error:
        status = status_for(error)
        if status == 500:
            logger.exception("request %s %s failed", request.method, request.path)
        details = error.details if isinstance(error, DomainError) else {}
        message = str(error) if status != 500 else "The server could not complete the request."
        if wants_json(request):
            body = {"error_id": error.error_id, "message": message, "details": details}
            return web.json_response(body, status=status)
        return await render(
            request,
            "error.html",
            {"status": status, "message": message, "details": details},
            status=status,
        )
