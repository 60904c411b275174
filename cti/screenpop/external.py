"""An outside customer source (another CRM) asked over HTTP when a caller is not ours.

Answers are cached, every request has a deadline, and any failure (timeout, error status,
malformed JSON) gives "nothing found" and a note in the health report, never a broken pop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import aiohttp

from cti.health import HealthRegistry

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExternalMatch:
    name: str
    id: str
    link: str

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "id": self.id, "link": self.link}


def fill(template: str, values: dict[str, str]) -> str:
    """A URL template with each {placeholder} replaced by its URL-quoted value."""
    out = template
    for name, value in values.items():
        out = out.replace("{" + name + "}", quote(value, safe=""))
    return out


class ExternalSource:
    def __init__(
        self,
        http: aiohttp.ClientSession,
        template: str,
        *,
        timeout: float,
        cache_seconds: float,
        health: HealthRegistry,
    ) -> None:
        self._http = http
        self._template = template
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._health = health
        self._cache: dict[str, tuple[float, ExternalMatch | None]] = {}

    async def lookup(self, e164: str, number: str) -> ExternalMatch | None:
        now = time.monotonic()
        cached = self._cache.get(e164)
        if cached is not None and now - cached[0] < self._cache_seconds:
            return cached[1]
        match = await self._fetch(e164, number)
        self._cache[e164] = (now, match)
        if len(self._cache) > 10_000:
            self._cache.pop(next(iter(self._cache)))
        return match

    async def _fetch(self, e164: str, number: str) -> ExternalMatch | None:
        url = fill(self._template, {"e164": e164, "number": number})
        try:
            async with asyncio.timeout(self._timeout):
                async with self._http.get(url, headers={"Accept": "application/json"}) as response:
                    if response.status == 404:
                        self._health.report("external-lookup", "ok")
                        return None
                    response.raise_for_status()
                    body: Any = await response.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            reason = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
            self._health.report("external-lookup", "degraded", reason)
            return None
        self._health.report("external-lookup", "ok")
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            return None
        return ExternalMatch(
            name=body["name"][:200],
            id=str(body.get("id", ""))[:128],
            link=str(body.get("link", ""))
            if str(body.get("link", "")).startswith(("http://", "https://"))
            else "",
        )
