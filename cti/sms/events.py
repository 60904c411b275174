"""What the SMS side tells the rest of the service through the event bus."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SmsReceived:
    """An inbound message that is not a keyword, for the features that wait for replies
    (appointments, surveys); it is already stored and on the customer's card."""

    message_id: int
    customer_id: int | None
    phone: str
    body: str
