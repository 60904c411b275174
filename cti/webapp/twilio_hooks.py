"""What Twilio calls: status callbacks for the messages we sent, and inbound SMS.

Both are signed with the gateway's auth token over the full URL Twilio called, so that URL is
rebuilt from the configured public base (`sms.callback_url`, else `server.public_url`), which is
also the base the status callbacks were given with. Set the number's (or the messaging service's)
incoming-message URL in Twilio to {base}/sms/twilio/{gateway}/inbound.
"""

from __future__ import annotations

import logging
from typing import Final

from aiohttp import web
from multidict import MultiDict
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from cti import keys
from cti.sms import status as st
from cti.sms.service import InboundSms
from cti.webapp.policy import WEBHOOK, requires

logger = logging.getLogger(__name__)

SIGNATURE_HEADER: Final = "X-Twilio-Signature"
# Twilio's MessageStatus in ours; the statuses of inbound messages and any new ones are ignored.
STATUSES: Final = {
    "accepted": st.QUEUED,
    "scheduled": st.QUEUED,
    "queued": st.QUEUED,
    "sending": st.QUEUED,
    "sent": st.SENT,
    "delivered": st.DELIVERED,
    "read": st.DELIVERED,
    "undelivered": st.UNDELIVERED,
    "failed": st.FAILED,
    "canceled": st.FAILED,
}


@requires(WEBHOOK)
async def status_callback(request: web.Request) -> web.StreamResponse:
    name, fields = await _verified(request)
    twilio_status = fields.get("MessageStatus", "")
    reported = STATUSES.get(twilio_status)
    # Our token, from the signed URL the message was sent with; Twilio's sid where it is missing.
    token = request.query.get("m", "")
    sid = fields.get("MessageSid", "")
    if reported is None or not (token or sid):
        return web.Response(status=204)
    known = await request.app[keys.SMS].report(
        reported, token=token, provider_id=sid, code=fields.get("ErrorCode", "")
    )
    if not known:
        # Still a success: Twilio would otherwise retry a report nobody can use.
        logger.info("Twilio %s reported %s for an unknown message %s", name, twilio_status, sid)
    return web.Response(status=204)


@requires(WEBHOOK)
async def inbound(request: web.Request) -> web.StreamResponse:
    name, fields = await _verified(request)
    sid, sender = fields.get("MessageSid", ""), fields.get("From", "")
    if not sid or not sender:
        raise web.HTTPBadRequest(text="An inbound SMS needs MessageSid and From.")
    reply = await request.app[keys.SMS].receive(
        InboundSms(
            gateway=name,
            provider_id=sid,
            sender=sender,
            recipient=fields.get("To", ""),
            body=fields.get("Body", ""),
            answered_by_provider=TWILIO_KEYWORDS,
        )
    )
    twiml = MessagingResponse()
    if reply is not None:
        twiml.message(reply)
    return web.Response(text=twiml.to_xml(), content_type="application/xml")


# Twilio's default opt-out, opt-in and help words, which it confirms to the sender itself.
TWILIO_KEYWORDS: Final = frozenset(
    (
        "STOP",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "START",
        "YES",
        "UNSTOP",
        "HELP",
        "INFO",
    )
)


async def _verified(request: web.Request) -> tuple[str, MultiDict[str]]:
    """The gateway's name and the form fields, once Twilio's signature over them checks out."""
    name = request.match_info["gateway"]
    gateway = request.app[keys.CONFIG].sms.gateway(name, "twilio")
    if gateway is None:
        raise web.HTTPNotFound(text=f"No Twilio gateway named {name!r}.")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    form = await request.post()
    fields = MultiDict[str](
        (field, value) for field, value in form.items() if isinstance(value, str)
    )
    url = _signed_url(request)
    validator = RequestValidator(gateway.auth_token.reveal())
    # Twilio posts a plain form: a file part was signed by no one.
    if len(fields) != len(form) or not validator.validate(url, fields, signature):
        # A wrong public base refuses every callback: the log says which URL was checked.
        logger.warning(
            "Twilio %s: refused %s with %s signature; checked against %s",
            name,
            request.path,
            "a wrong" if signature else "no",
            url.split("?")[0],
        )
        raise web.HTTPForbidden(text="Invalid or missing X-Twilio-Signature.")
    return name, fields


def _signed_url(request: web.Request) -> str:
    """The URL Twilio called: the configured public base, else the Host this request came to.

    The URL is what ties a signature to this endpoint: one signed for another URL of the same
    Twilio account must not pass here. X-Forwarded-Proto/Host are therefore not trusted (any
    caller can send them, as it can a Host header: that is why a configured base comes first).
    Behind a proxy, configure the base (the status callbacks need it to be right anyway).
    """
    config = request.app[keys.CONFIG]
    base = (config.sms.callback_url or config.server.public_url).rstrip("/")
    # raw_path is the path and query exactly as sent, which is what Twilio signed.
    if base:
        return base + request.raw_path
    return f"{request.scheme}://{request.host}{request.raw_path}"


def setup(app: web.Application) -> None:
    app.router.add_post("/sms/twilio/{gateway}/status", status_callback, name="twilio-status")
    app.router.add_post("/sms/twilio/{gateway}/inbound", inbound, name="twilio-inbound")
