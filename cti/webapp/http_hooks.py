"""Delivery reports from a generic HTTP gateway: the provider calls the `{status_url}` it was given.

That URL carries the message's random token, which no one but the provider has seen: a report for
a token we never issued is refused. The status may come in the query, a form or a JSON body, as
`status` (or `state`), and the provider's words for it are mapped to ours.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from aiohttp import web

from cti import keys
from cti.sms import status as st
from cti.webapp.policy import WEBHOOK, requires

logger = logging.getLogger(__name__)

STATUSES: Final = {
    **dict.fromkeys(("accepted", "queued", "buffered", "pending", "enroute"), st.QUEUED),
    **dict.fromkeys(("sent", "submitted", "acked"), st.SENT),
    **dict.fromkeys(("delivered", "delivrd", "read"), st.DELIVERED),
    **dict.fromkeys(("undelivered", "undeliv", "expired", "deleted"), st.UNDELIVERED),
    **dict.fromkeys(("failed", "rejected", "rejectd", "error"), st.FAILED),
}


@requires(WEBHOOK)
async def status_report(request: web.Request) -> web.StreamResponse:
    name = request.match_info["gateway"]
    if request.app[keys.CONFIG].sms.gateway(name, "http") is None:
        raise web.HTTPNotFound(text=f"No HTTP gateway named {name!r}.")
    token = request.query.get("m", "")
    fields = await _fields(request)
    word = str(fields.get("status") or fields.get("state") or "").strip().lower()
    reported = STATUSES.get(word)
    if reported is None:
        raise web.HTTPBadRequest(text=f"Unknown delivery status {word!r}.")
    code = str(fields.get("error_code") or fields.get("code") or "")
    text = str(fields.get("error") or fields.get("error_text") or "")
    if not token or not await request.app[keys.SMS].report(
        reported, token=token, code=code, text=text
    ):
        logger.warning("SMS gateway %s: a report for a message we did not send", name)
        raise web.HTTPForbidden(text="No message of ours has this token.")
    return web.Response(status=204)


async def _fields(request: web.Request) -> dict[str, Any]:
    fields: dict[str, Any] = dict(request.query)
    if request.method == "POST":
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise web.HTTPBadRequest(text="The body is not JSON.") from None
            if isinstance(body, dict):
                fields.update(body)
        else:
            fields.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
    return fields


def setup(app: web.Application) -> None:
    app.router.add_get("/sms/http/{gateway}/status", status_report)
    app.router.add_post("/sms/http/{gateway}/status", status_report)
