"""What every SMS gateway offers the outbox worker, and how it says no.

A gateway either accepts a message (the provider's id comes back) or raises GatewayError, which
says whether trying again later may work (429, 5xx, a network error) or not (an invalid number,
a refused sender). Adapters translate their provider's errors to this once, at the edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from cti.errors import SmsError


@dataclass(frozen=True, slots=True)
class OutgoingSms:
    message_id: int
    # Random per message; delivery reports carry it back (Kannel's dlr-url, generic gateways).
    token: str
    to: str
    body: str
    unicode: bool
    # Stable across retries of one message, for providers that deduplicate by key.
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Accepted:
    provider_id: str
    # QUEUED when the provider will report progress; SENT when it never will (Kannel without DLR).
    status: str


class GatewayError(SmsError):
    def __init__(
        self, code: str, text: str, *, temporary: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{code}: {text}" if code else text)
        self.code = code
        self.text = text
        self.temporary = temporary
        self.retry_after = retry_after


def http_error(status: int, text: str, retry_after: str | None = None) -> GatewayError:
    """An HTTP refusal: 429 and 5xx are worth retrying, the other 4xx are not."""
    delay = float(retry_after) if retry_after and retry_after.isdigit() else None
    return GatewayError(
        str(status), text[:500], temporary=status == 429 or status >= 500, retry_after=delay
    )


class Gateway(Protocol):
    name: str
    sender: str
    # Messages per second this sender may send; 0 is no limit.
    rate_per_second: float
    # True when the provider recognises a repeated idempotency key, so a message whose fate a
    # crash left unknown can be sent again safely.
    idempotent: bool

    async def send(self, message: OutgoingSms) -> Accepted: ...

    async def close(self) -> None: ...
