"""Twilio's Messages API through the official library's asynchronous client.

Twilio reports progress to the status callback given with each message; our token in its query
string names the message there (cti.webapp.twilio_hooks). Twilio has no idempotency key, so a
message whose fate a crash left unknown is not sent again.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Final

import aiohttp
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from cti.config import SmsGatewayConfig
from cti.sms import status as st
from cti.sms.gateway import Accepted, GatewayError, OutgoingSms

logger = logging.getLogger(__name__)

# Where the factory finds a stand-in for Twilio's API (a mock in tests); unset in production.
# A Twilio slower than this has probably lost the request; the worker retries it later.
TIMEOUT_SECONDS: Final = 10.0
_TWILIO_HOST: Final = re.compile(r"^https://[^/]*\.twilio\.com")
# The library puts this before Twilio's own message.
_LIBRARY_PREFIX: Final = "Unable to create record: "


class TwilioHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The library's client, with a timeout, without aiohttp's deprecated BasicAuth, and sending
    to `api_base` instead of *.twilio.com when one is given."""

    def __init__(self, api_base: str) -> None:
        super().__init__(timeout=TIMEOUT_SECONDS)
        self._api_base = api_base.rstrip("/")

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - the library's signature
        allow_redirects: bool = False,
    ) -> Response:
        headers = dict(headers or {})
        if auth is not None:
            # The library leaves headers named Authorization out of its request log.
            headers["Authorization"] = aiohttp.encode_basic_auth(*auth)
        if self._api_base:
            url = _TWILIO_HOST.sub(self._api_base, url)
        # The library does not pass its own timeout on: without one a request could hang forever.
        response: Response = await super().request(
            method, url, params, data, headers, None, timeout or self.timeout, allow_redirects
        )
        return response


class TwilioGateway:
    idempotent = False

    def __init__(self, config: SmsGatewayConfig, status_url: str) -> None:
        self.name = config.name
        self.sender = config.sender
        self.rate_per_second = config.rate_per_second
        self._status_url = status_url
        # With both, Twilio sends from `sender`, which must be in the service's pool.
        self._origin: dict[str, str] = {}
        if config.sender:
            self._origin["from_"] = config.sender
        if config.messaging_service_sid:
            self._origin["messaging_service_sid"] = config.messaging_service_sid
        # `url` points the client at a Twilio-compatible API (a test double) instead of Twilio.
        if config.url:
            logger.warning("SMS gateway %s talks to %s instead of Twilio", self.name, config.url)
        self._http = TwilioHttpClient(config.url)
        self._client = Client(
            config.account_sid, config.auth_token.reveal(), http_client=self._http
        )

    async def send(self, message: OutgoingSms) -> Accepted:
        try:
            created: Any = await self._client.messages.create_async(
                to=message.to,
                body=message.body,
                status_callback=f"{self._status_url}?m={message.token}",
                **self._origin,
            )
        except TwilioRestException as exc:
            raise _refused(
                exc.status, exc.code, str(exc.msg).removeprefix(_LIBRARY_PREFIX)
            ) from exc
        except TwilioServiceException as exc:
            # The library's name for an error in the RFC 9457 problem format.
            raise _refused(exc.status, exc.code, exc.detail or exc.title) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GatewayError("network", str(exc) or type(exc).__name__, temporary=True) from exc
        # Without a sid, our token in the status callback still names the message.
        return Accepted(provider_id=created.sid or message.token, status=st.QUEUED)

    async def close(self) -> None:
        await self._http.close()


def _refused(status: int, code: int | None, text: str) -> GatewayError:
    """Twilio's refusal, under its own error code (21211 invalid To, ...) where it gave one."""
    return GatewayError(str(code or status), text[:500], temporary=status == 429 or status >= 500)
