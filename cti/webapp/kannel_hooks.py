"""What Kannel calls: delivery reports for the messages we sent, and inbound SMS.

Kannel signs nothing: both URLs carry the shared `sms.webhook_token` as `key`, checked before
anything else. Use a token of ASCII letters and digits: Kannel reads each %X in its URLs as a
field of its own, which breaks a URL-encoded non-ASCII character. Kannel gives no message id:
our token in the dlr-url names the message (cti.sms.kannel_gateway), and an inbound message is
known by a digest of what it says.

The smsbox needs, besides the sendsms-user the gateway sends with:
- `mo-recode = true` in the smsbox group, so inbound UCS-2 text arrives as UTF-8;
- an sms-service (`keyword = default`, `catch-all = yes`, `omit-empty = true`) whose get-url is
  {base}/sms/kannel/{gateway}/mo?key={token}&from=%p&to=%P&text=%a&time=%t&charset=%C
  so that the reply we answer with goes back to the phone, and no answer sends nothing; in it
  `accept-x-kannel-headers = true`, without which Kannel ignores our X-Kannel-Coding and garbles
  a Chinese reply, and `max-messages` with `concatenation = true`, without which a reply longer
  than one SMS is cut short.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from typing import Final

from aiohttp import web

from cti import keys
from cti.sms import status as st
from cti.sms.encoding import analyse
from cti.sms.service import InboundSms
from cti.webapp.policy import WEBHOOK, requires

logger = logging.getLogger(__name__)

# Kannel's report types (%d) in our statuses.
STATUSES: Final = {
    "1": st.DELIVERED,
    "2": st.UNDELIVERED,
    "4": st.QUEUED,  # buffered by the SMSC
    "8": st.SENT,  # acknowledged by the SMSC
    "16": st.FAILED,  # rejected by the SMSC
}
_FAILURES: Final = frozenset({st.UNDELIVERED, st.FAILED})


@requires(WEBHOOK)
async def delivery_report(request: web.Request) -> web.StreamResponse:
    name = _verified(request)
    query = request.query
    kind, token = query.get("s", ""), query.get("m", "")
    reported = STATUSES.get(kind)
    # Without our token the report would be looked up by an empty provider id.
    if reported is None or not token:
        raise web.HTTPBadRequest(text="A delivery report needs m and s (1, 2, 4, 8 or 16).")
    failed = reported in _FAILURES
    known = await request.app[keys.SMS].report(
        reported,
        token=token,
        code=f"kannel-{kind}" if failed else "",
        # The SMSC's answer; on success it is an acknowledgement, not worth keeping.
        text=query.get("a", "") if failed else "",
    )
    if not known:
        logger.info("Kannel %s reported %s for an unknown message", name, reported)
    # Kannel ignores the body; an error would only fill its log.
    return web.Response()


@requires(WEBHOOK)
async def inbound(request: web.Request) -> web.StreamResponse:
    name = _verified(request)
    query = request.query
    sender, recipient, body = query.get("from", ""), query.get("to", ""), query.get("text", "")
    if not sender:
        raise web.HTTPBadRequest(text="An inbound SMS needs from.")
    charset = query.get("charset", "")
    if charset and charset.upper() != "UTF-8":
        # Stored as it came, UCS-2 text would be unreadable and a Chinese STOP would be missed.
        logger.warning(
            "Kannel %s sent text in %s: set mo-recode = true in its smsbox", name, charset
        )
        raise web.HTTPBadRequest(text="Inbound text must be UTF-8: set mo-recode = true.")
    reply = await request.app[keys.SMS].receive(
        InboundSms(
            gateway=name,
            provider_id=_digest(sender, recipient, query.get("time", ""), body),
            sender=sender,
            recipient=recipient,
            body=body,
        )
    )
    if reply is None:
        # With omit-empty, Kannel sends nothing back.
        return web.Response(text="", content_type="text/plain")
    # Kannel sends a reply as GSM-7 unless told otherwise; it turns our UTF-8 into UCS-2 itself.
    headers = {"X-Kannel-Coding": "2"} if analyse(reply).scheme == "UCS-2" else {}
    return web.Response(text=reply, content_type="text/plain", headers=headers)


def _digest(sender: str, recipient: str, sent_at: str, body: str) -> str:
    """The same for a callback Kannel repeats, so the message is stored once."""
    fields = json.dumps([sender, recipient, sent_at, body], ensure_ascii=False)
    return hashlib.sha256(fields.encode()).hexdigest()[:32]


def _verified(request: web.Request) -> str:
    """The gateway's name, once the request is known to be for a Kannel one and has the key."""
    name = request.match_info["gateway"]
    config = request.app[keys.CONFIG].sms
    if config.gateway(name, "kannel") is None:
        raise web.HTTPNotFound(text=f"No Kannel gateway named {name!r}.")
    expected = config.webhook_token.reveal().encode()
    given = request.query.get("key", "").encode()
    # compare_digest takes only ASCII str, so bytes; an unset token refuses everyone.
    if not expected or not hmac.compare_digest(given, expected):
        logger.warning(
            "Kannel %s: refused %s with %s key", name, request.path, "a wrong" if given else "no"
        )
        raise web.HTTPForbidden(text="Invalid or missing key.")
    return name


def setup(app: web.Application) -> None:
    app.router.add_get("/sms/kannel/{gateway}/dlr", delivery_report, name="kannel-dlr")
    app.router.add_get("/sms/kannel/{gateway}/mo", inbound, name="kannel-mo")
