"""The life of an SMS as cti records it, and the rule that a status never moves backwards.

Gateways report statuses late, twice and out of order (a "sent" after a "delivered"); a report
is applied only when it moves the message forward, so repeats and stragglers are harmless.
"""

from __future__ import annotations

from typing import Final

PENDING: Final = "pending"  # in the outbox, waiting for its due time
SENDING: Final = "sending"  # claimed by a worker under a lease, being handed to the gateway
QUEUED: Final = "queued"  # the gateway accepted it
SENT: Final = "sent"  # the gateway handed it to the carrier
DELIVERED: Final = "delivered"
UNDELIVERED: Final = "undelivered"
FAILED: Final = "failed"  # refused for good, or out of attempts
BLOCKED: Final = "blocked"  # never sent: opted out, or not a valid mobile number
RECEIVED: Final = "received"  # an inbound message

_RANK: Final = {
    PENDING: 0,
    SENDING: 1,
    QUEUED: 2,
    SENT: 3,
    DELIVERED: 4,
    UNDELIVERED: 4,
    FAILED: 4,
    BLOCKED: 4,
    RECEIVED: 4,
}
FINAL: Final = frozenset(s for s, rank in _RANK.items() if rank == 4)
# Statuses a gateway may report after accepting a message.
REPORTED: Final = frozenset({QUEUED, SENT, DELIVERED, UNDELIVERED, FAILED})
# Statuses in which a message counts against the recipient's daily cap.
COUNTED: Final = frozenset({QUEUED, SENT, DELIVERED, UNDELIVERED})


def behind(status: str) -> frozenset[str]:
    """The statuses a message may be in for `status` to move it forward."""
    return frozenset(s for s, rank in _RANK.items() if rank < _RANK[status])
