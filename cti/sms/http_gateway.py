"""The generic HTTP gateway: one request per message, shaped by configuration.

Many regional providers take a message as one HTTP request: a URL with the fields in its query
string, or a JSON or form body. `url` and `body` are templates with placeholders ({to} {sender}
{body} {id} {key} {status_url} {coding}); `response_id` and `response_error` are dotted paths into
the provider's JSON answer ("data.messages.0.id").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import aiohttp

from cti.config import SmsGatewayConfig
from cti.sms import status as st
from cti.sms.gateway import Accepted, GatewayError, OutgoingSms, http_error

_PLACEHOLDER = re.compile(r"{(to|sender|body|id|key|status_url|coding)}")
# A provider slower than this has probably lost the request; the worker retries it later.
_TIMEOUT = aiohttp.ClientTimeout(total=10)


class HttpGateway:
    def __init__(
        self, config: SmsGatewayConfig, http: aiohttp.ClientSession, status_url: str
    ) -> None:
        self.name = config.name
        self.sender = config.sender
        self.rate_per_second = config.rate_per_second
        self.idempotent = bool(config.idempotency_header)
        self._config = config
        self._http = http
        self._status_url = status_url
        # A provider only reports delivery when it was told where to.
        templates = [config.url, *config.body.values()]
        self._reports = any("{status_url}" in template for template in templates)

    async def send(self, message: OutgoingSms) -> Accepted:
        config = self._config
        values = {
            "to": message.to,
            "sender": self.sender,
            "body": message.body,
            "id": str(message.message_id),
            "key": message.idempotency_key,
            "status_url": f"{self._status_url}?m={message.token}",
            "coding": "ucs2" if message.unicode else "gsm7",
        }
        url = _fill(config.url, {name: quote(value, safe="") for name, value in values.items()})
        fields = {name: _fill(template, values) for name, template in config.body.items()}
        headers = {name: secret.reveal() for name, secret in config.headers.items()}
        if config.idempotency_header:
            headers[config.idempotency_header] = message.idempotency_key
        payload: dict[str, Any]
        if config.method == "GET":
            payload = {"params": fields}
        elif config.content_type == "form":
            payload = {"data": fields}
        else:
            payload = {"json": fields}
        try:
            async with self._http.request(
                config.method, url, headers=headers, timeout=_TIMEOUT, **payload
            ) as response:
                text = (await response.read()).decode("utf-8", errors="replace")
                if not 200 <= response.status < 300:
                    raise http_error(response.status, text, response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise GatewayError("network", str(exc) or type(exc).__name__, temporary=True) from exc
        return self._accepted(text, message.token)

    def _accepted(self, text: str, token: str) -> Accepted:
        try:
            answer: Any = json.loads(text)
        except ValueError:
            answer = None
        refusal = _find(answer, self._config.response_error)
        if refusal:
            reason = refusal if isinstance(refusal, str) else json.dumps(refusal)
            raise GatewayError("refused", reason[:500], temporary=False)
        found = _find(answer, self._config.response_id)
        # Without an id of the provider's, our token still names the message in its reports.
        has_id = isinstance(found, str | int) and not isinstance(found, bool) and found != ""
        provider_id = str(found) if has_id else token
        return Accepted(provider_id=provider_id, status=st.QUEUED if self._reports else st.SENT)

    async def close(self) -> None:
        return None


def _fill(template: str, values: Mapping[str, str]) -> str:
    return _PLACEHOLDER.sub(lambda match: values[match[1]], template)


def _find(document: Any, path: str) -> Any:
    """The value at a dotted path (list items by index), or None where the path leads nowhere."""
    if not path:
        return None
    for part in path.split("."):
        if isinstance(document, Mapping):
            document = document.get(part)
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return None
    return document
