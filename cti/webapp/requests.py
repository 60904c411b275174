"""What every JSON endpoint reads first: the body as one JSON object, or a clear 400."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cti.errors import DomainError


async def json_object(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise DomainError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise DomainError("the request body must be a JSON object")
    return body
