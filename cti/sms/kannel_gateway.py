"""Kannel's smsbox: one sendsms request per message, delivery reports to our dlr-url.

Kannel gives no message id, so our token goes into the dlr-url, where it names the message in
Kannel's reports (cti.webapp.kannel_hooks). The sendsms-user group needs `concatenation = true`
and `max-messages` of at least 10 (cti.sms.service.MAX_SEGMENTS), or Kannel cuts long texts short.

The password and the dlr-url's shared key travel in the query string, so no request URL is ever
logged or put into an error.
"""

from __future__ import annotations

from typing import Final

import aiohttp

from cti.config import SmsGatewayConfig
from cti.sms import status as st
from cti.sms.gateway import Accepted, GatewayError, OutgoingSms, http_error

# A Kannel slower than this has probably lost the request; the worker retries it later.
_TIMEOUT: Final = aiohttp.ClientTimeout(total=10)
# Delivered, failed, buffered, SMSC ack, SMSC reject: every report Kannel can give.
DLR_MASK: Final = "31"
# Kannel fills in the report type (%d) and the SMSC's answer (%A) when it calls the dlr-url.
_DLR_FIELDS: Final = "&s=%d&a=%A"


class KannelGateway:
    idempotent = False

    def __init__(self, config: SmsGatewayConfig, http: aiohttp.ClientSession, dlr_url: str) -> None:
        """`dlr_url` already carries the shared key in its query; the token is added per message.

        Kannel reads every %X in the dlr-url as a field of its own, so the key must be ASCII:
        URL-encoded ASCII starts each escape with a digit, which Kannel leaves alone.
        """
        self.name = config.name
        self.sender = config.sender
        self.rate_per_second = config.rate_per_second
        self._url = config.url
        self._credentials = {"username": config.username, "password": config.password.reveal()}
        self._http = http
        self._dlr_url = dlr_url

    async def send(self, message: OutgoingSms) -> Accepted:
        params = {
            **self._credentials,
            "to": message.to,
            "text": message.body,
            # Stated rather than left to Kannel's default (ISO-8859-1 in older releases), so that
            # é or € in a GSM-7 text arrive as sent.
            "charset": "UTF-8",
            "coding": "2" if message.unicode else "0",
            "dlr-mask": DLR_MASK,
            "dlr-url": f"{self._dlr_url}&m={message.token}{_DLR_FIELDS}",
        }
        # Without one, Kannel sends from the smsbox's global-sender.
        if self.sender:
            params["from"] = self.sender
        try:
            async with self._http.get(
                self._url, params=params, timeout=_TIMEOUT, allow_redirects=False
            ) as response:
                text = (await response.read()).decode("utf-8", errors="replace").strip()
                status = response.status
        except aiohttp.ClientResponseError as exc:
            # An answer that is not HTTP; the exception's text would name the URL, password and all.
            reason = "unreadable answer: " + " ".join(str(exc.message).split())
            raise GatewayError("network", reason, temporary=True) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GatewayError("network", str(exc) or type(exc).__name__, temporary=True) from exc
        # 202 is Kannel's "taken": "0: Accepted for delivery", "3: Queued for later delivery"
        # (no SMSC connected yet), or "Sent." with immediate-sendsms-reply. 403 is a wrong
        # password or an unroutable number, 400 a refused field, 503 a temporary failure.
        if status != 202:
            raise http_error(status, text)
        # Kannel's reports will name the message by our token, as there is no id of its own.
        return Accepted(provider_id=message.token, status=st.QUEUED)

    async def close(self) -> None:
        return None
