"""The embedded default gateway: messages are kept and shown, and nothing leaves the machine."""

from __future__ import annotations

import logging

from cti.sms import status as st
from cti.sms.gateway import Accepted, OutgoingSms

logger = logging.getLogger(__name__)


class LogGateway:
    idempotent = True

    def __init__(self, name: str, sender: str, rate_per_second: float) -> None:
        self.name = name
        self.sender = sender
        self.rate_per_second = rate_per_second

    async def send(self, message: OutgoingSms) -> Accepted:
        # The number is logged without its last digits: logs travel further than the database.
        logger.info("SMS %d to %s… not sent (log gateway)", message.message_id, message.to[:-4])
        return Accepted(provider_id=f"log-{message.token}", status=st.SENT)

    async def close(self) -> None:
        return None
